//! The route table. One module per endpoint family: Glide's current API, Glide's legacy
//! surfaces (`/oauth2/{auth,token,backchannel-authentication}`, `/magic-auth/verification/*`,
//! `/number-verification/*`, `/sim-swap/*`, `/device-swap/v1/*`, `/telco-finder/v1/*`, `/kyc-match/match`) and the
//! sandbox-only control API.

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

mod ciba;
mod complete;
mod extract;
mod kyc_match;
mod legacy;
mod legacy_pages;
mod number_verify;
mod oauth_legacy;
mod pages;
mod prepare;
mod process;
mod sandbox;
mod session;
mod swap;
mod telco_finder;
mod token;
mod wallet;

/// Glide's current API: token and Magical Auth v2.
fn magical_auth() -> Router<Arc<AppState>> {
    Router::new()
        .route("/oauth2-cc/token", post(token::token))
        .route("/magic-auth/v2/auth/prepare", post(prepare::prepare))
        .route(
            "/magic-auth/v2/auth/verify-phone-number",
            post(process::verify_phone_number),
        )
        .route(
            "/magic-auth/v2/auth/get-phone-number",
            post(process::get_phone_number),
        )
        .route("/magic-auth/v2/auth/complete", post(complete::complete))
        .route(
            "/magic-auth/v2/auth/report-invocation",
            post(session::report_invocation),
        )
        .route(
            "/magic-auth/v2/auth/eligibility",
            post(session::eligibility),
        )
        .route("/magic-auth/v2/auth/status/{key}", get(session::status))
        .route("/public/status/{key}", get(session::public_status))
}

/// Glide's legacy surfaces: operator OAuth and CIBA, Number Verify, SIM swap, Telco Finder, KYC
/// match, legacy Magic Auth.
fn legacy() -> Router<Arc<AppState>> {
    Router::new()
        .route("/oauth2/token", post(oauth_legacy::token))
        .route("/oauth2/auth", get(oauth_legacy::authorize))
        .route(
            "/oauth2/backchannel-authentication",
            post(ciba::backchannel_authentication),
        )
        .route("/bc-authorize", post(ciba::backchannel_authentication))
        .route(
            "/telco-finder/v1/resolve-network-id",
            post(telco_finder::resolve_network_id),
        )
        .route("/telco-finder/v1/search", post(telco_finder::search))
        .route("/kyc-match/match", post(kyc_match::kyc_match))
        .route("/number-verification/verify", post(number_verify::verify))
        .route(
            "/number-verification/device-phone-number",
            get(number_verify::device_phone_number),
        )
        .route("/sim-swap/check", post(swap::sim_check))
        .route("/sim-swap/retrieve-date", post(swap::sim_retrieve_date))
        .route("/device-swap/v1/check", post(swap::device_check))
        .route(
            "/device-swap/v1/retrieve-date",
            post(swap::device_retrieve_date),
        )
        .route("/magic-auth/verification/start", post(legacy::start))
        .route("/magic-auth/verification/check", post(legacy::check))
        .route(
            "/magic-auth/verification/start-server-auth",
            post(legacy::start_server_auth),
        )
        .route(
            "/magic-auth/verification/check-server-auth",
            get(legacy::check_server_auth),
        )
}

/// The sandbox-only control API and simulated device pages.
fn control() -> Router<Arc<AppState>> {
    Router::new()
        .route("/sandbox/ts43/credential", post(sandbox::ts43_credential))
        .route("/sandbox/wallet.js", get(wallet::wallet_js))
        .route("/sandbox/legacy/otp", post(legacy::sandbox_otp))
        .route("/sandbox/legacy/magic/{id}", get(legacy_pages::magic_page))
        .route(
            "/sandbox/legacy/server-auth/{id}",
            get(legacy_pages::server_auth_page),
        )
        .route("/sandbox/link/{key}", get(pages::link_page))
        .route("/sandbox/qr/{key}", get(pages::qr_page))
        .route(
            "/sandbox/desktop/{key}/{action}",
            post(sandbox::desktop_action),
        )
        .route(
            "/sandbox/faults",
            post(sandbox::add_fault).delete(sandbox::clear_faults),
        )
        .route(
            "/sandbox/requests",
            get(sandbox::requests).delete(sandbox::clear_requests),
        )
}

/// Every route, with the shared middleware, bound to `state`.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    magical_auth()
        .merge(legacy())
        .merge(control())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::middleware::around,
        ))
        .with_state(state)
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "No such endpoint",
    )
}
