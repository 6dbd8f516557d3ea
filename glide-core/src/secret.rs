//! Credentials as newtypes: the client id (plain) and the secrets, whose `Debug` prints
//! `Name([redacted])` and which have no `Display`, so that they cannot end up in logs by accident.
//!
//! ```
//! use glide_core::secret::{ClientId, ClientSecret};
//! let id = ClientId::new("my-app");
//! let secret = ClientSecret::new("s3cr3t");
//! assert_eq!(format!("{id:?}"), "ClientId(\"my-app\")");
//! assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
//! assert_eq!(secret.secret(), "s3cr3t");
//! ```

use std::fmt;

/// The OAuth2 client id of an application registered with Glide. Not a secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// Wraps a client id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientId").field(&self.0).finish()
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ClientId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for ClientId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// `Debug` prints only the type name; there is no `Display`. Equality is constant-time.
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(secret: impl Into<String>) -> Self {
                Self(secret.into())
            }

            /// The secret value. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// The secret value, consuming the wrapper.
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                ::subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}

        impl From<&str> for $name {
            fn from(secret: &str) -> Self {
                Self::new(secret)
            }
        }

        impl From<String> for $name {
            fn from(secret: String) -> Self {
                Self(secret)
            }
        }
    };
    // A secret that also travels on the wire (a JSON string both ways).
    (wire $(#[$meta:meta])* $name:ident) => {
        $crate::secret::secret_type!($(#[$meta])* $name);

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <String as ::serde::Deserialize>::deserialize(deserializer).map(Self)
            }
        }
    };
}

/// The one way to declare a secret newtype: `secret_type!(/// doc Name)`, or
/// `secret_type!(wire /// doc Name)` for one that is also (de)serialised as a JSON string.
pub(crate) use secret_type;

secret_type!(
    /// The OAuth2 client secret of an application registered with Glide.
    ClientSecret
);

secret_type!(
    /// A bearer token from Glide's `/oauth2-cc/token` (or a legacy token endpoint: client
    /// credentials, a Number Verify code exchange, a CIBA grant).
    AccessToken
);

secret_type!(
    /// The `auth_req_id` of a CIBA backchannel authentication (legacy SIM swap, KYC match): it
    /// is exchanged for a subscriber's token, so it is as secret as the token.
    AuthReqId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let s = ClientSecret::new("hunter2");
        let t = AccessToken::new("tok");
        assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
        assert_eq!(format!("{t:#?}"), "AccessToken([redacted])");
        assert_eq!(t, AccessToken::new("tok"));
        assert_ne!(t, AccessToken::new("tok2"));
        assert_eq!(s.into_secret(), "hunter2");
    }
}
