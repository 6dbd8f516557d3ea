//! The harness of the cross-adapter scenario suite.
//!
//! A scenario talks HTTP to an app over a real socket on 127.0.0.1; the app runs one adapter
//! ([`AxumAdapter`] or [`ActixAdapter`]) in front of the real engine, which talks to a real
//! [`Sandbox`](glide_sandbox::Sandbox). The app under test mounts the middleware plus three
//! routes of its own:
//!
//! | route | handler |
//! |---|---|
//! | `GET /me` | the `VerifiedPhone` as JSON (the extractor's 401 without one) |
//! | `GET /me/optional` | `Option<VerifiedPhone>` → `{"verified": bool}` |
//! | `GET /public` | no extractor: `public` |
//!
//! [`World`] bundles a fresh sandbox, a fresh app and two independent [`Browser`]s.
//!
//! One file per job:
//!
//! * `adapters`: the [`Adapter`]s that serve an app under test, and [`RunningApp`];
//! * `balancer`: [`serve_balancer`], round robin over app instances, per request;
//! * `fixtures`: [`sandbox_client`] and [`email_on_file`], which every engine under test uses;
//! * `faulty_store`: [`FaultyStore`], a store that can be switched to fail;
//! * `http_client`: [`Browser`] and [`Call`], a raw HTTP client that keeps cookies;
//! * `reply`: [`Reply`] and [`SetCookie`], an answer read in full, and its assertions;
//! * `world`: [`World`] and [`Prepared`], the scenario's world and the steps of a flow.
//!
//! This file holds the constants they share.

use std::time::Duration;

mod adapters;
mod balancer;
mod faulty_store;
mod fixtures;
mod http_client;
mod reply;
mod world;

pub use adapters::{serve_axum, ActixAdapter, Adapter, AxumAdapter, RunningApp};
pub use balancer::serve_balancer;
pub use faulty_store::FaultyStore;
pub use fixtures::{email_on_file, sandbox_client};
pub use http_client::{Browser, Call};
pub use reply::{Reply, SetCookie};
pub use world::{Prepared, World};

/// An Android Chrome user agent: the sandbox picks `ts43`.
pub const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
/// An iPhone Safari user agent: the sandbox picks `link`.
pub const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
/// A desktop Firefox user agent: the sandbox picks `desktop`.
pub const DESKTOP_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The name of the verified-session cookie with insecure development cookies.
pub const SESSION_COOKIE: &str = "glide_session";

/// The base path of the middleware's routes.
pub const BASE: &str = "/api/magical-auth";

/// The path of the Number Verify callback route (the engine's `number_verify_callback_url` is
/// the app's base URL followed by it).
pub const NUMBER_VERIFY_CALLBACK: &str = "/api/magical-auth/number-verify/callback";

/// How long the sandbox holds a desktop process call before answering 202.
pub const DESKTOP_WAIT: Duration = Duration::from_secs(1);
