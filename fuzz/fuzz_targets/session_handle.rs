//! Session handles: any session cookie value (`SessionId::parse`, `SessionManager::load`), any
//! handle to revoke, any user agent and address a session is issued to (`SessionClient::new`),
//! and any bytes in the store where a verified session or a number's index of sessions lives,
//! through a `SessionManager` on a `MemoryStore` and a manual clock.
//!
//! Properties: no panic, no error (the memory store never fails); `SessionId::parse` accepts
//! exactly what `URL_SAFE_NO_PAD` decodes to 32 bytes from 43 characters, keeps it verbatim,
//! round-trips, hides it from `Debug`, and its handle is the SHA-256 of it in lowercase hex (never
//! itself an id); a malformed cookie costs no store call, a well-formed unknown one at most one;
//! a device is summarised from the fixed vocabulary and its address masked (/24, /64); a stored
//! session loads only when it decodes and is within both lifetimes, and one that does not is
//! removed; loading is idempotent; a listing names only sessions of that number, marks the
//! caller's own, costs one store read per index entry plus one; a revocation succeeds only for a
//! handle of a live session of that number and ends exactly that session; with nothing tampered
//! the listing and revocations are exact.
//!
//! Input: lines `key value` (see the seeds): `cookie` (`#N` is session N's real id, `#N+text`
//! that id followed by text), `handle` (`#N` session N's handle, `#b` the other number's),
//! `ua`, `ip`, `sessions` (1–3 for the number), `advance` (seconds the clock moves before the
//! reads), `record` (the bytes of session 0's stored record; `$NOW` is the clock's time in unix
//! ms, `$HANDLE` session 0's handle), `index` (the bytes of the number's index, same
//! substitutions).
#![no_main]

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use glide_core::clock::ManualClock;
use glide_core::session::{SessionClient, SessionId, SessionManager};
use glide_core::store::MemoryStore;
use glide_core::{PhoneNumber, SessionConfig, Store, Strategy, UseCase, VerifiedPhone};
use glide_fuzz::CountingStore;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest as _, Sha256};

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600;
const IDLE_MS: i64 = 30 * 60 * 1000;
const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;

const BROWSERS: [&str; 7] = [
    "Edge",
    "Opera",
    "Samsung Internet",
    "Firefox",
    "Chrome",
    "Safari",
    "Unknown browser",
];
const SYSTEMS: [&str; 8] = [
    "Android",
    "iOS",
    "iPadOS",
    "ChromeOS",
    "Windows",
    "macOS",
    "Linux",
    "unknown OS",
];

#[derive(Debug, Default)]
struct Input {
    cookie: String,
    handle: String,
    user_agent: Option<String>,
    ip: Option<String>,
    sessions: usize,
    advance: u64,
    record: Option<String>,
    index: Option<String>,
}

impl Input {
    fn parse(data: &[u8]) -> Self {
        let mut input = Input {
            sessions: 1,
            ..Input::default()
        };
        for (key, value) in glide_fuzz::keyed_lines(data, 16) {
            match key.as_str() {
                "cookie" => input.cookie = value,
                "handle" => input.handle = value,
                "ua" => input.user_agent = Some(value),
                "ip" => input.ip = Some(value),
                "sessions" => input.sessions = value.trim().parse::<usize>().unwrap_or(1) % 3 + 1,
                "advance" => input.advance = value.trim().parse::<u64>().unwrap_or(0) % 86_400,
                "record" => input.record = Some(value),
                "index" => input.index = Some(value),
                _ => {}
            }
        }
        input
    }
}

/// What `URL_SAFE_NO_PAD` makes of 43 characters: exactly the session ids.
fn is_id_oracle(text: &str) -> bool {
    text.len() == 43
        && URL_SAFE_NO_PAD
            .decode(text)
            .is_ok_and(|bytes| bytes.len() == 32)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn check_id(text: &str) {
    let parsed = SessionId::parse(text);
    assert_eq!(parsed.is_some(), is_id_oracle(text), "{text:?}");
    let Some(id) = parsed else {
        return;
    };
    assert_eq!(id.as_str(), text);
    assert_eq!(SessionId::parse(id.as_str()).as_ref(), Some(&id));
    assert!(!format!("{id:?}").contains(text), "Debug shows the id");
    let handle = id.handle();
    assert_eq!(handle, sha256_hex(text));
    assert!(SessionId::parse(&handle).is_none(), "a handle is an id");
}

fn check_client(user_agent: Option<&str>, ip: Option<IpAddr>) -> SessionClient {
    let client = SessionClient::new(user_agent, ip);
    match (user_agent, client.user_agent()) {
        (None, None) => {}
        (Some(_), Some(summary)) => {
            let (browser, os) = summary.split_once(" on ").expect("`browser on OS`");
            assert!(
                BROWSERS.contains(&browser) && SYSTEMS.contains(&os),
                "{summary:?}"
            );
        }
        other => panic!("user agent summary {other:?}"),
    }
    match (ip, client.ip()) {
        (None, None) => {}
        (Some(ip), Some(masked)) => {
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            let expected = match ip {
                IpAddr::V4(v4) => {
                    let [a, b, c, _] = v4.octets();
                    format!("{}/24", std::net::Ipv4Addr::new(a, b, c, 0))
                }
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    format!("{net}/64")
                }
            };
            assert_eq!(masked, expected);
        }
        other => panic!("masked address {other:?}"),
    }
    client
}

/// How many entries the index bytes hold, as JSON (0 when they are not an index).
fn index_entries(bytes: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["sessions"].as_array().map(Vec::len))
        .unwrap_or(0)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    check_id(&input.cookie);
    check_id(&input.handle);
    let ip = input
        .ip
        .as_deref()
        .and_then(|t| t.trim().parse::<IpAddr>().ok());
    let client = check_client(input.user_agent.as_deref(), ip);

    let runtime = runtime();
    let start = time::OffsetDateTime::from_unix_timestamp(T0).expect("a time");
    let clock = ManualClock::at(start);
    let memory = MemoryStore::new().with_clock(Arc::new(clock.clone()));
    let store = CountingStore::new(Arc::new(memory));
    let sessions = SessionManager::new(
        Arc::new(store.clone()),
        Arc::new(clock.clone()),
        SessionConfig::default(),
    );
    let number = PhoneNumber::parse("+15555550101").expect("valid");
    let other = PhoneNumber::parse("+15555550102").expect("valid");

    runtime.block_on(async {
        let verified = |phone: &PhoneNumber| {
            VerifiedPhone::new(
                phone.clone(),
                UseCase::VerifyPhoneNumber,
                Strategy::Ts43,
                start,
            )
        };
        let mut ids = Vec::new();
        for _ in 0..input.sessions {
            let id = sessions
                .create_for(verified(&number), client.clone())
                .await
                .expect("created");
            ids.push(id);
        }
        let foreign = sessions
            .create_for(verified(&other), SessionClient::default())
            .await
            .expect("created");
        let handles: Vec<String> = ids.iter().map(SessionId::handle).collect();
        let session_key = |handle: &str| format!("session:{handle}");
        let index_key = format!("phone:{}", sha256_hex(number.as_str()));

        // Tampering with the store, then time passing.
        let now_ms = (T0 * 1000).to_string();
        let substitute = |text: &str| {
            text.replace("$NOW", &now_ms)
                .replace("$HANDLE", &handles[0])
                .into_bytes()
        };
        let tampered = input.record.is_some() || input.index.is_some();
        if let Some(record) = &input.record {
            let key = session_key(&handles[0]);
            let stored = store.load(&key).await.expect("load").expect("live");
            let ttl = Duration::from_secs(3600);
            assert!(store
                .compare_and_set(&key, stored.version, &substitute(record), ttl)
                .await
                .expect("cas"));
        }
        let index_bytes = match &input.index {
            Some(index) => {
                let stored = store.load(&index_key).await.expect("load").expect("live");
                let bytes = substitute(index);
                let ttl = Duration::from_secs(ABSOLUTE_MS as u64 / 1000);
                assert!(store
                    .compare_and_set(&index_key, stored.version, &bytes, ttl)
                    .await
                    .expect("cas"));
                bytes
            }
            None => {
                store
                    .load(&index_key)
                    .await
                    .expect("load")
                    .expect("live")
                    .value
            }
        };
        clock.advance(time::Duration::seconds(input.advance as i64));
        let now = T0 * 1000 + input.advance as i64 * 1000;
        let fresh = input.advance * 1000 < IDLE_MS as u64;

        // Any cookie value: malformed costs nothing, well-formed unknown one read.
        let cookie = match input.cookie.strip_prefix('#') {
            Some(rest) => {
                let n = rest
                    .bytes()
                    .next()
                    .map_or(0, |b| usize::from(b) % ids.len());
                let suffix = rest.get(1..).unwrap_or_default();
                format!(
                    "{}{}",
                    ids[n].as_str(),
                    suffix.strip_prefix('+').unwrap_or("")
                )
            }
            None => input.cookie.clone(),
        };
        let before = store.ops();
        let loaded = sessions.load(&cookie).await.expect("no store error");
        let cost = store.ops() - before;
        let known = ids.iter().chain([&foreign]).any(|id| id.as_str() == cookie);
        if !is_id_oracle(&cookie) {
            assert!(loaded.is_none());
            assert_eq!(cost, 0, "a malformed cookie reached the store");
        } else if !known {
            assert!(loaded.is_none());
            assert!(cost <= 1, "{cost} store calls for an unknown id");
        }

        // Session 0, whatever its record became.
        let key0 = session_key(&handles[0]);
        let first = sessions
            .load(ids[0].as_str())
            .await
            .expect("no store error");
        let again = sessions
            .load(ids[0].as_str())
            .await
            .expect("no store error");
        assert_eq!(first, again, "loading is not idempotent");
        let stored0 = store.load(&key0).await.expect("load");
        match &first {
            Some(phone) => {
                assert!(glide_fuzz::is_e164(phone.phone_number.as_str()));
                let stored = stored0.expect("a loaded session stays stored");
                let record: serde_json::Value =
                    serde_json::from_slice(&stored.value).expect("a loaded record is JSON");
                let created = record["created_ms"].as_i64().expect("created_ms");
                let seen = record["seen_ms"].as_i64().expect("seen_ms");
                assert!(
                    now < created.saturating_add(ABSOLUTE_MS) && now < seen.saturating_add(IDLE_MS),
                    "a session past its lifetimes loaded: {record}"
                );
                if input.record.is_none() {
                    assert_eq!(phone.phone_number, number);
                }
            }
            None => {
                assert!(
                    stored0.is_none(),
                    "a session that does not load stays stored"
                );
                if !tampered {
                    assert!(!fresh, "a fresh untouched session did not load");
                }
            }
        }

        // The listing.
        let before = store.ops();
        let listed = sessions.list(&number, Some(&cookie)).await.expect("listed");
        let cost = store.ops() - before;
        assert!(
            cost as usize <= 1 + index_entries(&index_bytes),
            "{cost} store calls to list {} entries",
            index_entries(&index_bytes)
        );
        let own = SessionId::parse(&cookie).map(|id| id.handle());
        for info in &listed {
            assert!(
                handles.contains(&info.handle),
                "listed a session of another number"
            );
            assert_eq!(info.current, own.as_deref() == Some(info.handle.as_str()));
        }
        if !tampered && fresh {
            let listed: Vec<&str> = listed.iter().map(|i| i.handle.as_str()).collect();
            assert_eq!(listed, handles, "the listing of untouched sessions");
        }

        // A revocation by any handle.
        let handle = match input.handle.strip_prefix('#') {
            Some("b") => foreign.handle(),
            Some(rest) => handles[rest
                .bytes()
                .next()
                .map_or(0, |b| usize::from(b) % ids.len())]
            .clone(),
            None => input.handle.clone(),
        };
        let present = store
            .load(&session_key(&handle))
            .await
            .expect("load")
            .is_some();
        let revoked = sessions
            .revoke(&number, &handle)
            .await
            .expect("no store error");
        if revoked {
            assert!(handles.contains(&handle), "revoked {handle:?}");
            assert!(present);
            let n = handles.iter().position(|h| *h == handle).expect("ours");
            assert!(sessions
                .load(ids[n].as_str())
                .await
                .expect("load")
                .is_none());
        } else if !tampered && fresh && handles.contains(&handle) {
            panic!("a live session of the number was not revoked by its handle");
        }
        for (id, h) in ids.iter().zip(&handles) {
            if *h != handle && !tampered && fresh {
                assert!(sessions.load(id.as_str()).await.expect("load").is_some());
            }
        }
        // The other number's session is never touched.
        if fresh {
            assert!(sessions
                .load(foreign.as_str())
                .await
                .expect("load")
                .is_some());
        }
    });
});
