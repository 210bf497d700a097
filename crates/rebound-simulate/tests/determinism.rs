//! `--seed` replays a simulation exactly (issue 17 item 1: "deterministic
//! for a given `--seed`"): the same scenario run twice with one seed gives
//! the same report, figure for figure, every alert at the same simulated
//! instant. Before the engine ran a simulation's calls in order, two runs
//! of this scenario made 226 and 243 calls.

use rebound_simulate::{Options, builtin, simulate};

async fn report_json(seed: u64) -> serde_json::Value {
    let scenario = builtin::load("new-years-eve")
        .expect("a built-in")
        .expect("it parses");
    let options = Options {
        days: Some(1),
        seed: Some(seed),
        ..Options::default()
    };
    let report = simulate(scenario, &options).await.expect("it runs");
    let mut json = serde_json::to_value(&report).expect("a report serialises");
    // Real time, not the simulation's.
    json.as_object_mut()
        .expect("an object")
        .remove("elapsed_seconds");
    json
}

#[tokio::test]
async fn the_same_seed_replays_the_same_report() {
    let first = report_json(3).await;
    let second = report_json(3).await;
    assert!(
        first["calls"]["total"].as_i64().unwrap_or(0) > 100,
        "the storm made calls: {}",
        first["calls"]
    );
    let mut differences = Vec::new();
    diff("", &first, &second, &mut differences);
    assert!(
        differences.is_empty(),
        "two runs with seed 3 differ:\n{}",
        differences.join("\n")
    );
}

/// Where two JSON values differ, one line per differing leaf (at most 30).
fn diff(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    if out.len() >= 30 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (l, r) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                diff(&format!("{path}.{key}"), l, r, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), l, r, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}
