//! What a session's owner sees of the device that holds it: a user-agent summary from a fixed
//! vocabulary ("Chrome on Android") and a masked address (IPv4 /24, IPv6 /64). Nothing the
//! client sent is stored or echoed verbatim.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Strategy;

/// The device a session was issued to, as stored with it: a user-agent summary and a masked
/// address, never the raw header or the full address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
}

impl SessionClient {
    /// Summarises a `User-Agent` header and masks a client address (either may be unknown).
    pub fn new(user_agent: Option<&str>, ip: Option<IpAddr>) -> Self {
        Self {
            user_agent: user_agent.map(summarise_user_agent),
            ip: ip.map(mask_ip),
        }
    }

    /// The user-agent summary, e.g. `Chrome on Android`.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The masked address, e.g. `203.0.113.0/24` or `2001:db8:1:2::/64`.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// One live session of a number, as its owner may see it (see
/// [`SessionManager::list`](super::SessionManager::list)). Serialises to the contract's
/// `{handle, created_at, last_seen_at, strategy, user_agent, ip, current}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// An opaque handle naming the session for revocation: a hash of its id, which cannot be
    /// turned back into the id (and so cannot be used as a session cookie).
    pub handle: String,
    /// When the session was issued.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// When it was last used, to within the idle-refresh interval (at most a minute).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_seen_at: OffsetDateTime,
    /// How the number was verified for it.
    pub strategy: Strategy,
    /// The device's user-agent summary, when known.
    pub user_agent: Option<String>,
    /// The device's masked address, when known.
    pub ip: Option<String>,
    /// Whether this is the session of the request that asked.
    pub current: bool,
}

/// `Browser on OS` from a fixed vocabulary: bounded, and nothing the client wrote comes back.
fn summarise_user_agent(ua: &str) -> String {
    let has = |needle: &str| ua.contains(needle);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        "Edge"
    } else if has("OPR/") || has("Opera") {
        "Opera"
    } else if has("SamsungBrowser/") {
        "Samsung Internet"
    } else if has("Firefox/") || has("FxiOS/") {
        "Firefox"
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        "Chrome"
    } else if has("Safari/") && has("Version/") {
        "Safari"
    } else {
        "Unknown browser"
    };
    let os = if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPod") {
        "iOS"
    } else if has("iPad") {
        "iPadOS"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("Linux") {
        "Linux"
    } else {
        "unknown OS"
    };
    format!("{browser} on {os}")
}

/// IPv4: the /24 (`203.0.113.0/24`); IPv6: the /64 (`2001:db8:1:2::/64`); an IPv4-mapped IPv6
/// address as IPv4.
fn mask_ip(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_summarised_from_a_fixed_vocabulary() {
        let cases = [
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on macOS"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0 Safari/537.36", "Chrome on Linux"),
            ("curl/8.5.0", "Unknown browser on unknown OS"),
            // Each alternative of a name on its own.
            ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36 EdgA/124.0", "Edge on Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) EdgiOS/124.0 Version/17.0 Mobile/15E148 Safari/604.1", "Edge on iOS"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 OPR/110.0", "Opera on Windows"),
            ("Opera/9.80 (Android; Opera Mini/7.5) Presto/2.8 Version/11.10", "Opera on Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0 Mobile/15E148 Safari/604.1", "Chrome on iOS"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chromium/124.0 Safari/537.36", "Chrome on Linux"),
            // Safari/ without Version/ is some other WebKit browser.
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Safari/537.36", "Unknown browser on Linux"),
            ("Mozilla/5.0 (Macintosh; PPC) Gecko/20100101 Firefox/45.0", "Firefox on macOS"),
            ("Mozilla/5.0 (Mac OS X 10_15_7) Gecko/20100101 Firefox/125.0", "Firefox on macOS"),
        ];
        for (ua, want) in cases {
            assert_eq!(summarise_user_agent(ua), want, "{ua}");
        }
        // Whatever arrives, nothing of it is echoed and the length stays bounded.
        let hostile = format!("<script>{}</script> Android", "x".repeat(10_000));
        let summary = summarise_user_agent(&hostile);
        assert_eq!(summary, "Unknown browser on Android");
        assert!(summarise_user_agent(&"Chrome/ ".repeat(1000)).len() <= 40);
    }

    #[test]
    fn addresses_are_masked() {
        let v4: IpAddr = "203.0.113.77".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(mask_ip(v4), "203.0.113.0/24");
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6"
            .parse()
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(mask_ip(v6), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:198.51.100.9"
            .parse()
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(mask_ip(mapped), "198.51.100.0/24");
        let client = SessionClient::new(Some("curl/8"), Some(v4));
        assert_eq!(client.ip(), Some("203.0.113.0/24"));
        assert!(!format!("{client:?}").contains("77"));
    }
}
