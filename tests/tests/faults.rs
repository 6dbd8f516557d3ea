//! Faults as tests: every sandbox fault kind on every Glide endpoint the middleware calls, on
//! every adapter (one test per adapter × endpoint × fault, so that a failure names all three),
//! and Redis stopped and restarted in the middle of a flow. The table of expectations is
//! `glide_tests::faults::expectation`.

use glide_tests::faults::{run_case, run_case_fail_open, Endpoint, FaultCase};
use glide_tests::harness::{ActixAdapter, AxumAdapter};

/// One test per fault case of `$endpoint`.
macro_rules! case_tests {
    ($adapter:expr, $endpoint:expr; $($name:ident => $case:ident),* $(,)?) => {
        case_tests! { run_case; $adapter, $endpoint; $($name => $case),* }
    };
    ($runner:ident; $adapter:expr, $endpoint:expr; $($name:ident => $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $runner(&$adapter, $endpoint, FaultCase::$case).await;
            }
        )*
    };
}

/// The cases of every endpoint (a 401 on a token endpoint is not an expired token: it has its
/// own list, [`api_cases`]).
macro_rules! common_cases {
    ($adapter:expr, $endpoint:expr) => {
        common_cases!(run_case; $adapter, $endpoint);
    };
    ($runner:ident; $adapter:expr, $endpoint:expr) => {
        case_tests! {
            $runner; $adapter, $endpoint;
            status_500 => Status500,
            status_503_retry_after_once => Unavailable503Once,
            status_503_retry_after_persisting => Unavailable503Persisting,
            status_503_without_retry_after => Unavailable503WithoutRetryAfter,
            status_429_with_retry_after => RateLimited429,
            delay_beyond_the_timeout => DelayBeyondTimeout,
            delay_within_the_timeout => DelayWithinTimeout,
            malformed_answer => Malformed,
            dropped_connection => Drop,
        }
    };
}

/// The cases of an API path: the common ones and a 401 (expired token).
macro_rules! api_cases {
    ($adapter:expr, $endpoint:expr) => {
        common_cases!($adapter, $endpoint);
        case_tests! { $adapter, $endpoint; status_401_refreshes_the_token => Unauthorized401 }
    };
}

/// The calls of the swap checks (SIM and device): every case (a 401 included: a refused CIBA token, or an
/// expired subscriber token on `retrieve-date`), fail-closed and fail-open.
macro_rules! sim_swap_cases {
    ($adapter:expr, $endpoint:expr) => {
        mod fail_closed {
            use super::*;
            common_cases!(run_case; $adapter, $endpoint);
            case_tests! { run_case; $adapter, $endpoint; status_401 => Unauthorized401 }
        }
        mod fail_open {
            use super::*;
            common_cases!(run_case_fail_open; $adapter, $endpoint);
            case_tests! { run_case_fail_open; $adapter, $endpoint; status_401 => Unauthorized401 }
        }
    };
}

macro_rules! adapter_tests {
    ($adapter_mod:ident, $adapter:expr) => {
        mod $adapter_mod {
            use super::*;

            mod oauth2_cc_token {
                use super::*;
                common_cases!($adapter, Endpoint::Token);
            }
            mod prepare {
                use super::*;
                api_cases!($adapter, Endpoint::Prepare);
            }
            mod verify_phone_number {
                use super::*;
                api_cases!($adapter, Endpoint::VerifyPhoneNumber);
            }
            mod get_phone_number {
                use super::*;
                api_cases!($adapter, Endpoint::GetPhoneNumber);
            }
            mod complete {
                use super::*;
                api_cases!($adapter, Endpoint::Complete);
            }
            mod report_invocation {
                use super::*;
                api_cases!($adapter, Endpoint::ReportInvocation);
            }
            mod status {
                use super::*;
                api_cases!($adapter, Endpoint::Status);
            }
            mod legacy_oauth2_token {
                use super::*;
                common_cases!($adapter, Endpoint::LegacyToken);
            }
            mod legacy_verification_start {
                use super::*;
                api_cases!($adapter, Endpoint::LegacyStart);
            }
            mod legacy_verification_check {
                use super::*;
                api_cases!($adapter, Endpoint::LegacyCheck);
            }
            mod sim_swap_ciba_request {
                use super::*;
                sim_swap_cases!($adapter, Endpoint::CibaRequest);
            }
            mod sim_swap_ciba_token {
                use super::*;
                sim_swap_cases!($adapter, Endpoint::CibaToken);
            }
            mod sim_swap_retrieve_date {
                use super::*;
                sim_swap_cases!($adapter, Endpoint::SimSwapRetrieveDate);
            }
            mod device_swap_retrieve_date {
                use super::*;
                sim_swap_cases!($adapter, Endpoint::DeviceSwapRetrieveDate);
            }
        }
    };
}

adapter_tests!(axum, AxumAdapter);
adapter_tests!(actix, ActixAdapter);

/// The table covers every endpoint × case, and only a 401 on a token endpoint is left out.
#[test]
fn every_endpoint_and_case_has_an_expectation() {
    use glide_tests::faults::expectation;
    for endpoint in Endpoint::ALL {
        for case in FaultCase::ALL {
            let applies = expectation(endpoint, case).is_some();
            let token_401 = endpoint.is_token()
                && !endpoint.is_sim_swap_check()
                && case == FaultCase::Unauthorized401;
            assert_eq!(applies, !token_401, "{endpoint:?} × {case:?}");
        }
    }
}

/// Redis stopped after prepare and restarted: see `glide_tests::faults::redis_outage_mid_flow`.
mod redis_outage {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn axum() {
        glide_tests::faults::redis_outage_mid_flow(&AxumAdapter).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn actix() {
        glide_tests::faults::redis_outage_mid_flow(&ActixAdapter).await;
    }
}
