//! ES256 JWS: signing, verifying, JWKs (P-256, raw `r||s` signatures, base64url).

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::Rng as _;
use serde_json::{json, Value};

use crate::util::{b64url, b64url_decode};

/// A fresh random P-256 signing key.
pub(crate) fn random_signing_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        // Out-of-range scalars are astronomically rare; just draw again.
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// `header.payload.signature`, ES256.
pub(crate) fn sign(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64url(&signature.to_bytes()))
}

/// Checks an ES256 compact JWS; returns `(header, payload)` when the signature holds.
pub(crate) fn verify(key: &VerifyingKey, jws: &str) -> Option<(Value, Value)> {
    let mut parts = jws.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&b64url_decode(h)?).ok()?;
    if header.get("alg")?.as_str()? != "ES256" {
        return None;
    }
    let signature = Signature::from_slice(&b64url_decode(s)?).ok()?;
    key.verify(format!("{h}.{p}").as_bytes(), &signature).ok()?;
    let payload: Value = serde_json::from_slice(&b64url_decode(p)?).ok()?;
    payload.is_object().then_some((header, payload))
}

/// The public JWK of `key`.
pub(crate) fn public_jwk(key: &VerifyingKey, key_use: &str, alg: &str, kid: &str) -> Value {
    let point = key.to_encoded_point(false);
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": point.x().map(|x| b64url(x)).unwrap_or_default(),
        "y": point.y().map(|y| b64url(y)).unwrap_or_default(),
        "use": key_use,
        "alg": alg,
        "kid": kid,
    })
}

/// Verifies a base64 DER ECDSA-SHA256 `signature` over `message` against a base64 x9.63 public key.
pub(crate) fn verify_der(public_key: &VerifyingKey, message: &str, signature_b64: &str) -> bool {
    let Some(der) = crate::util::b64_any_decode(signature_b64) else {
        return false;
    };
    let Ok(signature) = Signature::from_der(&der) else {
        return false;
    };
    let signature = signature.normalize_s().unwrap_or(signature);
    public_key.verify(message.as_bytes(), &signature).is_ok()
}

/// Parses a base64 65-byte uncompressed P-256 public key.
pub(crate) fn parse_public_key(b64: &str) -> Option<VerifyingKey> {
    let bytes = crate::util::b64_any_decode(b64)?;
    if bytes.len() != 65 || bytes[0] != 4 {
        return None;
    }
    VerifyingKey::from_sec1_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = random_signing_key();
        let jws = sign(&key, &json!({"alg": "ES256"}), &json!({"a": 1}));
        let (_, payload) = verify(key.verifying_key(), &jws).expect("valid");
        assert_eq!(payload["a"], 1);
        let other = random_signing_key();
        assert!(verify(other.verifying_key(), &jws).is_none());
        let tampered = jws.replacen('.', ".e30", 1);
        assert!(verify(key.verifying_key(), &tampered).is_none());
    }
}
