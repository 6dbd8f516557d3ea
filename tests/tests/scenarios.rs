//! The shared scenario suite, run against every adapter: one test per scenario per adapter, so
//! that a failure names both. The list itself is `glide_tests::for_each_scenario!`.

use glide_tests::harness::{ActixAdapter, Adapter, AxumAdapter, World};
use glide_tests::scenarios::ScenarioFn;

/// Starts a fresh world on `adapter` and runs one scenario in it.
async fn run(adapter: &'static dyn Adapter, scenario: ScenarioFn) {
    let world = World::start(adapter).await;
    scenario(&world).await;
}

macro_rules! adapter_tests {
    ($adapter_mod:ident, $adapter:expr; $($module:ident :: $name:ident),* $(,)?) => {
        mod $adapter_mod {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    run(&$adapter, |world| Box::pin(glide_tests::scenarios::$module::$name(world))).await;
                }
            )*
        }
    };
}

macro_rules! scenario_tests {
    ($($list:tt)*) => {
        adapter_tests!(axum, AxumAdapter; $($list)*);
        adapter_tests!(actix, ActixAdapter; $($list)*);
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
