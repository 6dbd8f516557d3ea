//! The shared scenario suite, run against every adapter: one test per scenario per adapter, so
//! that a failure names both, and once more per adapter on two instances of the app behind a
//! round-robin balancer sharing the test Redis Cluster (`axum_pair`, `actix_pair`): every request
//! of a scenario reaches the other instance than the one before. The list itself is
//! `glide_tests::for_each_scenario!`.

use glide_tests::harness::{ActixAdapter, Adapter, AxumAdapter, World};
use glide_tests::scenarios::ScenarioFn;

/// Starts a fresh world on `adapter` and runs one scenario in it.
async fn run(adapter: &'static dyn Adapter, scenario: ScenarioFn) {
    let world = World::start(adapter).await;
    scenario(&world).await;
}

/// Starts a fresh world of two instances on `adapter` sharing the cluster, and runs one scenario
/// in it (skipped loudly without a cluster, never under `GLIDE_REQUIRE_EXTERNAL=1`).
async fn run_pair(adapter: &'static dyn Adapter, scenario: ScenarioFn) {
    let Some(world) = World::start_pair_on_cluster(adapter).await else {
        return;
    };
    scenario(&world).await;
}

macro_rules! adapter_tests {
    ($adapter_mod:ident, $adapter:expr, $run:ident; $($module:ident :: $name:ident),* $(,)?) => {
        mod $adapter_mod {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $run(&$adapter, |world| Box::pin(glide_tests::scenarios::$module::$name(world))).await;
                }
            )*
        }
    };
}

macro_rules! scenario_tests {
    ($($list:tt)*) => {
        adapter_tests!(axum, AxumAdapter, run; $($list)*);
        adapter_tests!(actix, ActixAdapter, run; $($list)*);
        adapter_tests!(axum_pair, AxumAdapter, run_pair; $($list)*);
        adapter_tests!(actix_pair, ActixAdapter, run_pair; $($list)*);
    };
}

glide_tests::for_each_scenario!(scenario_tests);

#[test]
fn the_scenario_list_has_unique_names() {
    let names: Vec<_> = glide_tests::scenarios::all()
        .iter()
        .map(|s| s.name)
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        names.len(),
        "duplicate scenario names in {names:?}"
    );
    assert!(names.len() >= 40, "the list lost scenarios: {names:?}");
}
