//! The shared scenario list: every scenario is written once, over HTTP, and run against every
//! adapter (see `tests/tests/scenarios.rs`). A scenario takes a fresh [`World`] and panics, with
//! the adapter's name in the message, when the app under test misbehaves.

use std::future::Future;
use std::pin::Pin;

use crate::harness::World;

pub mod attacks;
pub mod chain;
pub mod config;
pub mod cors;
pub mod device_swap;
pub mod faults;
pub mod flows;
pub mod guards;
pub mod legacy;
pub mod legacy_number_verify;
pub mod no_way_around;
pub mod number_sessions;
pub mod policy;
pub mod replay;
pub mod routes;
pub mod session;
pub mod sim_swap;

/// Calls `$callback! { module::scenario, … }` with the whole scenario list: the one list from
/// which both [`all`] and the per-adapter tests are generated.
#[macro_export]
macro_rules! for_each_scenario {
    ($callback:ident) => {
        $callback! {
            attacks::desktop_flow_cannot_be_taken_over_by_its_key,
            attacks::relayed_ts43_credential_is_refused,
            attacks::stranger_cannot_lock_a_number_out,
            attacks::stranger_cannot_lock_out_code_checks,
            attacks::resend_cooldown_holds_across_browsers,
            attacks::glide_calls_are_limited_per_source,
            attacks::unauthenticated_flood_cannot_starve_verified_users,
            attacks::desktop_flow_cannot_be_taken_over_by_its_key_with_redis,
            attacks::stranger_cannot_lock_a_number_out_with_redis,
            attacks::stranger_cannot_lock_out_code_checks_with_redis,
            attacks::resend_cooldown_holds_across_browsers_with_redis,
            attacks::glide_calls_are_limited_per_source_with_redis,
            attacks::unauthenticated_flood_cannot_starve_verified_users_with_redis,
            cors::cors_for_configured_origins_only,
            attacks::step_up_guard_on_a_route,
            flows::ts43_verify_phone_number,
            flows::ts43_get_phone_number,
            flows::link_verify_phone_number,
            flows::link_complete_without_binding_cookie,
            flows::link_complete_in_another_browser_family,
            flows::link_complete_replayed,
            flows::desktop_waits_then_verifies,
            flows::desktop_process_is_woken_by_approval,
            policy::recent_sim_swap_is_denied,
            policy::recent_device_swap_is_denied,
            policy::medium_risk_is_allowed_with_signals,
            policy::unchecked_signal_is_allowed,
            policy::other_number_on_the_device_is_not_verified,
            policy::ineligible_carrier_is_refused_at_prepare,
            replay::process_twice_is_refused,
            replay::concurrent_process_gives_one_session,
            replay::credential_of_another_flow_is_refused,
            session::bogus_session_cookie_is_not_adopted,
            session::every_verification_gets_a_fresh_id,
            session::logout_ends_the_session,
            session::two_instances_share_the_cluster,
            session::tampered_session_cookie_is_unauthenticated,
            guards::foreign_origin_is_refused,
            guards::null_origin_is_refused,
            guards::cross_site_fetch_is_refused,
            guards::wrong_method_is_refused,
            guards::non_json_content_type_is_refused,
            guards::malformed_json_is_refused,
            guards::phone_number_of_the_wrong_type_is_refused,
            guards::invalid_phone_numbers_are_refused,
            guards::spaced_phone_number_is_canonicalised,
            guards::oversized_body_is_refused,
            guards::unknown_session_is_not_found,
            routes::status_of_a_prepared_desktop_flow,
            routes::report_invocation_always_succeeds,
            routes::glide_js_is_served,
            routes::completion_page_headers,
            routes::app_routes_without_a_session,
            faults::glide_error_on_prepare_is_opaque,
            faults::glide_connection_drop_is_unavailable,
            faults::glide_malformed_answer_is_bad_gateway,
            faults::glide_error_on_process_loses_nothing,
            faults::store_outage_is_opaque_and_lets_no_one_in,
            config::secure_cookies_use_the_host_prefix,
            config::stricter_risk_policy_denies_medium,
            config::number_ranges_are_refused_before_anything_starts,
            config::shadow_policy_never_refuses,
            config::prepare_rate_limit_per_ip,
            config::prepare_rate_limit_counts_every_spelling_of_a_number,
            config::custom_route_paths,
            legacy::legacy_sms_fallback_end_to_end,
            legacy::legacy_email_fallback_end_to_end,
            legacy::legacy_magic_flow_end_to_end,
            legacy::legacy_wrong_code_counts_attempts,
            legacy::legacy_five_wrong_codes_kill_the_verification,
            legacy::legacy_resend_cooldown_keeps_the_count,
            legacy::legacy_reused_code_is_refused,
            legacy::legacy_wrong_code_during_the_check_of_the_right_one,
            legacy::legacy_expired_code_is_refused,
            legacy::legacy_cross_recipient_code_is_refused,
            legacy::legacy_verify_from_another_browser_is_refused,
            legacy::legacy_server_auth_end_to_end,
            legacy::legacy_foreign_origin_is_refused,
            legacy_number_verify::number_verify_end_to_end,
            legacy_number_verify::number_verify_other_device_number_fails,
            legacy_number_verify::number_verify_missing_state_is_refused,
            legacy_number_verify::number_verify_forged_state_is_refused,
            legacy_number_verify::number_verify_state_of_another_browser_is_refused,
            legacy_number_verify::number_verify_expired_state_is_refused,
            legacy_number_verify::number_verify_reused_state_is_refused,
            legacy_number_verify::number_verify_ignores_return_urls_in_the_request,
            legacy_number_verify::number_verify_uses_the_configured_return_path,
            legacy_number_verify::number_verify_open_redirect_return_paths_are_refused_at_build,
            sim_swap::sim_swap_denies_the_sms_fallback,
            sim_swap::sim_swap_denies_the_email_fallback,
            sim_swap::sim_swap_denies_the_legacy_carrier_check,
            sim_swap::sim_swap_denies_server_auth,
            sim_swap::sim_swap_denies_number_verify,
            sim_swap::sim_swap_low_risk_on_every_code_path,
            sim_swap::sim_swap_check_failure_fails_closed,
            sim_swap::sim_swap_check_failure_fails_open_when_chosen,
            sim_swap::sim_swap_check_switched_off,
            device_swap::device_swap_denies_the_sms_fallback,
            device_swap::device_swap_denies_the_email_fallback,
            device_swap::device_swap_denies_the_legacy_carrier_check,
            device_swap::device_swap_denies_server_auth,
            device_swap::device_swap_denies_number_verify,
            device_swap::device_swap_check_failure_fails_closed,
            device_swap::device_swap_check_failure_fails_open_when_chosen,
            device_swap::device_swap_not_supported_is_recorded_and_can_be_required,
            legacy_number_verify::number_verify_code_injected_into_another_flow_is_refused,
            legacy_number_verify::number_verify_code_injection_is_refused_with_redis,
            legacy_number_verify::number_verify_code_injection_is_refused_by_the_nonce_alone,
            chain::chain_not_eligible_number_falls_through_to_a_code,
            chain::chain_magical_auth_is_read_from_this_browsers_session,
            chain::chain_budget_is_shared_by_resends_switches_and_new_chains,
            chain::chain_stranger_cannot_exhaust_the_owners_budget,
            chain::chain_deadlines_follow_the_engine_clock,
            chain::chain_risk_denial_never_falls_through,
            chain::chain_skipping_a_step_is_refused,
            chain::chain_replayed_advance_is_refused,
            chain::chain_racing_advances_one_wins,
            chain::chain_of_another_browser_cannot_be_touched,
            chain::chain_code_for_another_number_is_refused,
            chain::chain_carrier_check_step_verifies_with_the_token,
            chain::chain_magical_auth_is_not_skipped_on_the_browsers_word,
            chain::chain_magical_auth_is_not_skipped_on_the_browsers_word_with_redis,
            chain::chain_budget_of_a_number_holds_across_sources,
            chain::chain_budget_of_a_number_holds_across_sources_with_redis,
            chain::chain_attempts_left_is_exact_after_racing_advances,
            chain::chain_attempts_left_is_exact_after_racing_advances_with_redis,
            number_sessions::sessions_of_the_number_are_listed_without_ids,
            number_sessions::revoke_from_another_browser_ends_that_session,
            number_sessions::revoke_others_keeps_the_current_session,
            number_sessions::revoke_all_ends_the_current_session_too,
            number_sessions::foreign_and_forged_handles_are_not_found,
            number_sessions::sessions_routes_need_a_verified_session,
            number_sessions::sessions_routes_refuse_other_origins,
            number_sessions::high_risk_sim_swap_revokes_every_session_of_the_number,
            no_way_around::otp_guessing_across_addresses_is_capped,
            no_way_around::otp_guessing_across_addresses_is_capped_with_redis,
            no_way_around::refused_requests_spend_none_of_the_owners_budget,
            no_way_around::owner_outlasts_a_stranger_with_fifty_addresses,
            no_way_around::a_flood_cannot_reset_an_exhausted_limit,
            no_way_around::a_flood_cannot_reset_an_exhausted_limit_with_redis,
            no_way_around::sessions_routes_refuse_simple_cross_origin_bodies,
            no_way_around::guarded_routes_refuse_cross_origin_state_changes,
            no_way_around::origins_of_another_scheme_are_refused,
            no_way_around::server_auth_records_what_proved_the_number,
            no_way_around::a_damaged_session_index_fails_closed,
            no_way_around::a_damaged_session_index_fails_closed_with_redis,
            no_way_around::forged_forwarded_lines_do_not_choose_the_source,
        }
    };
}

/// A scenario's body: an async function of a [`World`].
pub type ScenarioFn = for<'a> fn(&'a World) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One named scenario.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// The scenario's name (its function's name).
    pub name: &'static str,
    /// Runs it.
    pub run: ScenarioFn,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .finish()
    }
}

macro_rules! scenario_list {
    ($($module:ident :: $name:ident),* $(,)?) => {
        vec![$(
            Scenario {
                name: stringify!($name),
                run: |world| Box::pin($module::$name(world)),
            }
        ),*]
    };
}

/// Every scenario, in order.
pub fn all() -> Vec<Scenario> {
    for_each_scenario!(scenario_list)
}

/// Runs every scenario against `adapter`, each in a fresh [`World`]; panics naming the adapter
/// and the first failing scenario.
pub async fn run_all(adapter: &'static dyn crate::harness::Adapter) {
    for scenario in all() {
        let world = World::start(adapter).await;
        eprintln!("[{}] {}", adapter.name(), scenario.name);
        (scenario.run)(&world).await;
    }
}
