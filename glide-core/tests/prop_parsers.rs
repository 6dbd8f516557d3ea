//! Property tests of the parsers that face the outside: phone numbers, e-mail addresses and
//! Glide's wire types. (`Cookie` headers, binding cookies and query strings are internal to the
//! engine: their properties are unit tests in `src/endpoint/`.)
//!
//! The same properties are fuzzed for millions of inputs by the cargo-fuzz targets in `fuzz/`;
//! here a modest number of cases runs on every `cargo test` (the short run in CI).

use glide_core::api::{GlideSession, PhoneResult, PrepareResponse};
use glide_core::binding::is_hex64;
use glide_core::legacy::{Email, MAX_EMAIL_LEN};
use glide_core::PhoneNumber;
use proptest::prelude::*;

/// `^\+[1-9]\d{1,14}$`, written out.
fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Text that is often close to a phone number: `+`, digits, separators, and a few strangers.
fn phoneish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::char::range('0', '9'),
            2 => prop::sample::select(vec!['+', ' ', '-', '.', '(', ')']),
            1 => any::<char>(),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Text that is often close to a `Cookie` header.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn strict_phone_parse_is_exactly_e164(input in phoneish()) {
        let parsed = PhoneNumber::parse(&input);
        prop_assert_eq!(parsed.is_ok(), is_e164(&input), "{:?}", input);
        if let Ok(n) = parsed {
            prop_assert_eq!(n.as_str(), input.as_str());
        }
    }

    #[test]
    fn lenient_phone_parse_yields_e164_of_the_input_digits(input in phoneish()) {
        if let Ok(n) = PhoneNumber::parse_lenient(&input) {
            prop_assert!(is_e164(n.as_str()), "{:?} -> {:?}", input, n.as_str());
            let digits: String = input.chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(&n.as_str()[1..], digits.as_str());
            // idempotent
            prop_assert_eq!(PhoneNumber::parse_lenient(n.as_str()), Ok(n.clone()));
            prop_assert!(!format!("{n:?}").contains(n.as_str()), "Debug leaks the number");
        }
        if let Ok(strict) = PhoneNumber::parse(&input) {
            prop_assert_eq!(PhoneNumber::parse_lenient(&input), Ok(strict));
        }
    }

    #[test]
    fn every_spelling_of_a_number_gives_one_value(
        number in "\\+[1-9][0-9]{1,14}",
        seps in prop::collection::vec(prop::sample::select(vec!["", " ", "-", ".", "(", ")", " (", ") "]), 16),
    ) {
        let canonical = PhoneNumber::parse(&number).expect("generated E.164");
        let mut spelled = String::from("+");
        for (i, digit) in number[1..].chars().enumerate() {
            if i > 0 {
                spelled.push_str(seps[i]);
            }
            spelled.push(digit);
        }
        prop_assert_eq!(PhoneNumber::parse_lenient(&spelled), Ok(canonical), "{:?}", spelled);
        // Surrounding spaces are refused, not trimmed.
        let padded = format!(" {spelled}");
        prop_assert!(PhoneNumber::parse_lenient(&padded).is_err());
    }

    #[test]
    fn accepted_email_addresses_have_the_documented_shape(
        input in prop_oneof![
            "[a-z.+*]{0,6}@[a-z.]{0,6}",
            any::<String>(),
            "[a-z]{1,3}[ <>\\t\\n@]{0,2}[a-z]{0,3}@[a-z]{1,3}",
        ],
    ) {
        if let Ok(email) = Email::parse(&input) {
            prop_assert_eq!(email.as_str(), input.as_str());
            prop_assert!((3..=MAX_EMAIL_LEN).contains(&input.len()));
            prop_assert_eq!(input.matches('@').count(), 1);
            let (local, domain) = input.split_once('@').expect("one @");
            prop_assert!(!local.is_empty() && !domain.is_empty());
            prop_assert!(!input.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>'));
            let first: String = local.chars().take(1).collect();
            prop_assert_eq!(format!("{email:?}"), format!("Email({first}***@{domain})"));
        }
    }
}

fn glideish_json() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "",
            "ee25b966c9395f0b",
            "link",
            "ts43",
            "desktop",
            "+15555550100",
            "15555550100",
            "RISK_LEVEL_HIGH",
            "waiting",
        ])
        .prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::btree_map(
            prop::sample::select(vec![
                "session_key",
                "session",
                "authentication_strategy",
                "data",
                "phone_number",
                "fe_code",
                "verified",
                "challenge",
                "session_expires_in_seconds",
                "sim_swap",
                "url",
                "x",
            ]),
            inner,
            0..5,
        )
        .prop_map(|m| {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        })
    });
    prop_oneof![
        4 => value.prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn accepted_glide_answers_keep_their_promises(body in glideish_json()) {
        if let Ok(prepared) = serde_json::from_slice::<PrepareResponse>(&body) {
            prop_assert!(!prepared.session_key().is_empty());
            let again = serde_json::to_vec(&prepared).expect("serialises");
            let back: PrepareResponse = serde_json::from_slice(&again).expect("round trip");
            prop_assert_eq!(back.session_key(), prepared.session_key());
            let _ = (prepared.ts43_data(), prepared.link_data(), prepared.desktop_data());
            let mut taken = prepared.clone();
            if let Some(code) = taken.take_fe_code() {
                prop_assert!(is_hex64(code.secret()));
            }
            prop_assert!(taken.data.get("fe_code").is_none());
        }
        if let Ok(session) = serde_json::from_slice::<GlideSession>(&body) {
            prop_assert!(!session.session_key().is_empty());
        }
        if let Ok(result) = serde_json::from_slice::<PhoneResult>(&body) {
            prop_assert!(is_e164(result.phone_number.as_str()));
        }
        let _ = serde_json::from_slice::<glide_core::api::StatusResponse>(&body);
        let _ = serde_json::from_slice::<glide_core::api::EligibilityResponse>(&body);
        let _ = serde_json::from_slice::<glide_core::legacy::StartAuthResponse>(&body);
        let _ = serde_json::from_slice::<glide_core::legacy::NumberVerifyResponse>(&body);
    }
}
