//! Unguessable values (flow and session ids, binding codes, OAuth state, nonces, PKCE
//! verifiers): every one comes from here, from rand's thread-local CSPRNG (ChaCha, seeded and
//! reseeded from the operating system).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;

/// `N` random bytes.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// 32 random bytes, base64url without padding (43 characters).
pub(crate) fn token() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_base64url_characters_and_differ() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert_ne!(bytes::<16>(), bytes::<16>());
    }
}
