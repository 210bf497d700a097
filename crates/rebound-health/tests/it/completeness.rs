//! Completeness of a fanned-out dataset: the calendar's games of a date
//! against the games collected, "7 of 9", the missing ids and their
//! deadlines (event start + `after_event_start`).

use super::harness;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::clock::Clock;
use rebound_health::Level;
use rebound_service::observe::EngineCalendars;
use rebound_upstream_sim::Reply;
use serde_json::json;
use std::collections::BTreeMap;

const CONFIG: &str = r#"
[sources.up]
base_url = "{base}"
timeout = "2s"
breaker = { enabled = false }

[calendars.games]
dataset = "nba/schedule"
events = "$.games[*]"
id = "id"
start = "start"

[scrapers.schedule]
source = "up"
path = "/t/schedule"
records = "/games"
dataset = "nba/schedule"

[scrapers.box]
source = "up"
path = "/t/box/{game_id}"
dataset = "nba/box"
for_each = { calendar = "games", param = "game_id" }

[workflows.games]
steps = [
  { scrapers = ["schedule"] },
  { scrapers = ["box"], after = ["schedule"] },
]

[datasets."nba/box"]
complete_by = { after_event_start = "6h", severity = "critical" }
"#;

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn seven_of_nine_then_critical_past_each_deadline() {
    let h = harness(CONFIG).await;
    // Nine games on 2026-11-28 (New York), tip-offs 19:00 to 22:00 local;
    // g8 tips at 19:00 and g9 at 21:00.
    let starts = [
        "19:30", "19:30", "20:00", "20:00", "20:30", "21:00", "22:00", "19:00", "21:00",
    ];
    let games: Vec<_> = starts
        .iter()
        .enumerate()
        .map(|(i, hm)| json!({"id": format!("g{}", i + 1), "start": format!("2026-11-28T{hm}:00-05:00")}))
        .collect();
    h.sim.script(
        "/t/schedule",
        vec![Reply::json(200, json!({ "games": games }))],
    );
    for i in 1..=7 {
        h.sim.script(
            &format!("/t/box/g{i}"),
            vec![Reply::json(200, json!({"game": i}))],
        );
    }
    h.sim.script(
        "/t/box/g8",
        vec![Reply::text(500, "box score service down")],
    );
    h.sim.script(
        "/t/box/g9",
        vec![Reply::text(500, "box score service down")],
    );
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    h.engine
        .run_workflow("games", date, &BTreeMap::new())
        .await
        .expect("run");

    let at = |now: DateTime<Utc>| {
        let h = &h;
        async move {
            let all = rebound_health::freshness(
                &h.plan,
                h.store.as_ref(),
                &EngineCalendars(&h.engine),
                now,
            )
            .await
            .expect("freshness");
            let d = all.into_iter().find(|d| d.name == "nba/box").unwrap();
            (d.level, d.completeness.expect("completeness"))
        }
    };
    // Noon, game day: 7 of 9, two missing, nothing overdue yet.
    let (level, c) = at(h.clock.now()).await;
    assert_eq!(level, Level::Ok);
    assert_eq!((c.target_date, c.expected, c.collected), (date, 9, 7));
    assert_eq!(c.missing, vec!["g8", "g9"]);
    assert!(c.overdue.is_empty());
    assert_eq!(
        c.deadline,
        Some(t("2026-11-29T01:00:00-05:00")),
        "g8's start + 6h"
    );
    assert_eq!(c.error, None);

    // One second before g8's deadline (the next local day): still ok, and
    // the report still looks at last night.
    let (level, c) = at(t("2026-11-29T00:59:59-05:00")).await;
    assert_eq!(level, Level::Ok);
    assert_eq!(c.target_date, date);
    // At the deadline g8 is overdue: critical, as configured.
    let (level, c) = at(t("2026-11-29T01:00:00-05:00")).await;
    assert_eq!(level, Level::Critical);
    assert_eq!(c.overdue, vec!["g8"]);
    assert_eq!(c.missing, vec!["g8", "g9"]);
    let (_, c) = at(t("2026-11-29T03:00:00-05:00")).await;
    assert_eq!(c.overdue, vec!["g8", "g9"]);

    // A rerun collects them: 9 of 9, ok.
    h.sim.script(
        "/t/schedule",
        vec![Reply::json(200, json!({ "games": games }))],
    );
    h.sim
        .script("/t/box/g8", vec![Reply::json(200, json!({"game": 8}))]);
    h.sim
        .script("/t/box/g9", vec![Reply::json(200, json!({"game": 9}))]);
    for i in 1..=7 {
        h.sim.script(
            &format!("/t/box/g{i}"),
            vec![Reply::json(200, json!({"game": i}))],
        );
    }
    h.engine
        .run_workflow("games", date, &BTreeMap::new())
        .await
        .expect("rerun");
    let (level, c) = at(t("2026-11-29T03:00:00-05:00")).await;
    assert_eq!(level, Level::Ok);
    assert_eq!((c.expected, c.collected), (9, 9));
    assert!(c.missing.is_empty() && c.deadline.is_none());
}

#[tokio::test]
async fn a_calendar_without_data_is_reported_not_guessed() {
    let h = harness(CONFIG).await;
    let all = rebound_health::freshness(
        &h.plan,
        h.store.as_ref(),
        &EngineCalendars(&h.engine),
        h.clock.now(),
    )
    .await
    .unwrap();
    let d = all.into_iter().find(|d| d.name == "nba/box").unwrap();
    let c = d.completeness.unwrap();
    assert_eq!(c.level, Level::Warning);
    assert!(
        c.error
            .as_deref()
            .unwrap()
            .contains("calendar games has no data yet"),
        "{c:?}"
    );
}

/// `after_event_start` is bounded at load; the report computes each
/// deadline with saturating arithmetic all the same. A grace beyond any
/// date leaves the missing games missing but never overdue, with the
/// deadline at the last representable instant (it panicked on
/// `DateTime + TimeDelta` before).
#[tokio::test]
async fn a_grace_beyond_any_date_is_never_overdue_and_does_not_panic() {
    let h = harness(CONFIG).await;
    h.sim.script(
        "/t/schedule",
        vec![Reply::json(
            200,
            json!({"games": [
                {"id": "g1", "start": "2026-11-28T19:30:00-05:00"},
                {"id": "g2", "start": "2026-11-28T20:00:00-05:00"},
            ]}),
        )],
    );
    h.sim
        .script("/t/box/g1", vec![Reply::json(200, json!({"game": 1}))]);
    h.sim.script(
        "/t/box/g2",
        vec![Reply::text(500, "box score service down")],
    );
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    h.engine
        .run_workflow("games", date, &BTreeMap::new())
        .await
        .expect("run");
    let mut plan = (*h.plan).clone();
    plan.datasets
        .get_mut("nba/box")
        .and_then(|d| d.complete_by.as_mut())
        .expect("nba/box has complete_by")
        .after_event_start = std::time::Duration::MAX;
    let all = rebound_health::freshness(
        &plan,
        h.store.as_ref(),
        &EngineCalendars(&h.engine),
        t("2026-11-29T06:00:00-05:00"),
    )
    .await
    .expect("freshness");
    let c = all
        .into_iter()
        .find(|d| d.name == "nba/box")
        .and_then(|d| d.completeness)
        .expect("completeness");
    assert_eq!((c.expected, c.collected), (2, 1));
    assert_eq!(c.missing, vec!["g2"]);
    assert!(c.overdue.is_empty(), "{c:?}");
    assert_eq!(c.level, Level::Ok);
    assert_eq!(c.deadline, Some(DateTime::<Utc>::MAX_UTC));
}

/// Every dataset's entities come from one read for all datasets and both
/// dates: each dataset gets its own answer, and one whose calendar has no
/// data yet (sorted between the two) takes none of the others'.
#[tokio::test]
async fn each_dataset_gets_its_own_entities_from_the_one_read() {
    let config = format!(
        r#"{CONFIG}
[calendars.later]
dataset = "nba/later_schedule"
events = "$.games[*]"
id = "id"
start = "start"

[scrapers.later_schedule]
source = "up"
path = "/t/later"
records = "/games"
dataset = "nba/later_schedule"

[scrapers.mid]
source = "up"
path = "/t/mid/{{game_id}}"
dataset = "nba/mid"
for_each = {{ calendar = "later", param = "game_id" }}

[scrapers.odds]
source = "up"
path = "/t/odds/{{game_id}}"
dataset = "nba/odds"
for_each = {{ calendar = "games", param = "game_id" }}

[workflows.odds]
steps = [
  {{ scrapers = ["schedule"] }},
  {{ scrapers = ["odds"], after = ["schedule"] }},
]

[datasets."nba/mid"]
complete_by = {{ after_event_start = "6h", severity = "critical" }}

[datasets."nba/odds"]
complete_by = {{ after_event_start = "6h", severity = "warning" }}
"#
    );
    let h = harness(&config).await;
    let games: Vec<_> = (1..=4)
        .map(|i| json!({"id": format!("g{i}"), "start": "2026-11-28T19:30:00-05:00"}))
        .collect();
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    // Box collects g1 to g3; odds only g4.
    for (workflow, collected) in [("games", "box"), ("odds", "odds")] {
        h.sim.script(
            "/t/schedule",
            vec![Reply::json(200, json!({ "games": games }))],
        );
        for i in 1..=4 {
            let ok = (collected == "box") == (i < 4);
            h.sim.script(
                &format!("/t/{collected}/g{i}"),
                vec![if ok {
                    Reply::json(200, json!({"game": i}))
                } else {
                    Reply::text(500, "down")
                }],
            );
        }
        h.engine
            .run_workflow(workflow, date, &BTreeMap::new())
            .await
            .expect("run");
    }
    let all = rebound_health::freshness(
        &h.plan,
        h.store.as_ref(),
        &EngineCalendars(&h.engine),
        t("2026-11-29T03:00:00-05:00"),
    )
    .await
    .expect("freshness");
    let of = |name: &str| {
        all.iter()
            .find(|d| d.name == name)
            .and_then(|d| d.completeness.clone())
            .unwrap_or_else(|| panic!("{name} has completeness: {all:?}"))
    };
    let (box_, mid, odds) = (of("nba/box"), of("nba/mid"), of("nba/odds"));
    assert_eq!(
        (box_.target_date, box_.collected, box_.expected),
        (date, 3, 4)
    );
    assert_eq!(box_.missing, vec!["g4"]);
    assert_eq!(box_.level, Level::Critical);
    assert!(
        mid.error
            .as_deref()
            .is_some_and(|e| e.contains("calendar later has no data yet")),
        "{mid:?}"
    );
    assert_eq!(
        (odds.target_date, odds.collected, odds.expected),
        (date, 1, 4)
    );
    assert_eq!(odds.missing, vec!["g1", "g2", "g3"]);
    assert_eq!(odds.level, Level::Warning);
}
