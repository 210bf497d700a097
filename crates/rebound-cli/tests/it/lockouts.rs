//! `rebound lockouts [--json]` and `rebound lockouts reset SCRAPER [ENTITY]`.

use super::{rebound, text};
use chrono::{TimeDelta, Utc};
use rebound_storage::{NewLockout, Store};
use rebound_storage_sqlite::SqliteStore;

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        r#"
[pipeline]
name = "locks"
timezone = "America/New_York"

[sources.up]
base_url = "http://127.0.0.1:9"

[scrapers.schedule]
source = "up"
path = "/schedule"
dataset = "nbacom/schedule"

[calendars.games]
dataset = "nbacom/schedule"
events = "$.games[*]"
id = "gameId"
start = "start"

[scrapers.box]
source = "up"
path = "/box/{game_id}"
for_each = { calendar = "games", param = "game_id" }
lockout = { after = 3, for = "24h" }

[scrapers.pbp]
source = "up"
path = "/pbp/{game_id}"
for_each = { calendar = "games", param = "game_id" }
lockout = {}
"#,
    )
    .unwrap();
    path
}

/// Locks `entities` of `scraper` for 24 hours in `dir`'s history, as three
/// failures in a row would.
#[allow(clippy::disallowed_methods)] // the binary under test runs on the wall clock
fn lock(dir: &std::path::Path, scraper: &str, entities: &[&str]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&dir.join("rebound.db")).await.unwrap();
        let now = Utc::now();
        for entity in entities {
            store
                .lock_entity(&NewLockout {
                    scraper_name: scraper.into(),
                    entity: (*entity).into(),
                    locked_at: now,
                    until: now + TimeDelta::hours(24),
                    consecutive: 3,
                    reason: "3 consecutive no_data/failures (last: no_data)".into(),
                    source_hash: Some("h1".into()),
                })
                .await
                .unwrap();
        }
        store.pool().close().await;
    });
}

#[test]
fn lockouts_are_counted_per_scraper_listed_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let cfg = cfg.to_str().unwrap();
    lock(dir.path(), "box", &["g1", "g2"]);

    let out = rebound(&["-c", cfg, "lockouts", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["counts"], serde_json::json!({"box": 2, "pbp": 0}));
    assert_eq!(json["lockouts"][0]["entity"], "g1");
    assert_eq!(json["lockouts"][0]["state"], "locked");
    assert_eq!(json["lockouts"][1]["consecutive"], 3);

    let table = rebound(&["-c", cfg, "lockouts"], &[("COLUMNS", "200")]);
    let table = text(&table.stdout);
    assert!(table.contains("locked entities"), "{table}");
    assert!(table.contains("3 consecutive no_data/failures"), "{table}");

    let reset = rebound(&["-c", cfg, "lockouts", "reset", "box", "g1"], &[]);
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    assert_eq!(text(&reset.stdout).trim(), "released 1 lock of box g1");
    let out = rebound(&["-c", cfg, "lockouts", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["counts"]["box"], 1);

    // Before: "released 0 locks", exit 0, for an entity without a lock.
    for entity in ["g1", "g9"] {
        let none = rebound(&["-c", cfg, "lockouts", "reset", "box", entity], &[]);
        assert_eq!(none.status.code(), Some(1), "{}", text(&none.stderr));
        assert_eq!(
            text(&none.stdout).trim(),
            format!("box {entity}: that entity holds no lock of this scraper; nothing released")
        );
        let json = rebound(
            &["-c", cfg, "lockouts", "--json", "reset", "box", entity],
            &[],
        );
        assert_eq!(json.status.code(), Some(1), "{}", text(&json.stderr));
        let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(json["released"], 0);
    }

    let all = rebound(&["-c", cfg, "lockouts", "reset", "box"], &[]);
    assert_eq!(text(&all.stdout).trim(), "released 1 lock of box");
    let again = rebound(&["-c", cfg, "lockouts", "reset", "box"], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(
        text(&again.stdout).trim(),
        "box holds no locks; nothing released"
    );
    let unknown = rebound(&["-c", cfg, "lockouts", "reset", "nope"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("unknown scraper \"nope\""));
}

/// Locks of a scraper the config no longer has (renamed or removed) are
/// listed by `rebound lockouts`; `lockouts reset` refused them as an
/// unknown scraper, so they could not be released.
#[test]
fn locks_of_a_scraper_the_config_no_longer_has_can_be_released() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let cfg = cfg.to_str().unwrap();
    lock(dir.path(), "old_box", &["g1"]);
    let table = text(&rebound(&["-c", cfg, "lockouts"], &[("COLUMNS", "200")]).stdout);
    assert!(table.contains("old_box"), "{table}");
    let reset = rebound(&["-c", cfg, "lockouts", "reset", "old_box"], &[]);
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    assert_eq!(text(&reset.stdout).trim(), "released 1 lock of old_box");
    let table = text(&rebound(&["-c", cfg, "lockouts"], &[("COLUMNS", "200")]).stdout);
    assert!(table.contains("no entity is locked out"), "{table}");
}

/// An empty ENTITY named no entity and read `box : that entity holds no
/// lock of this scraper` (exit 1), as if an id had been looked up; it is
/// a usage error saying to leave it out, and nothing is released.
#[test]
fn an_empty_entity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let cfg = cfg.to_str().unwrap();
    lock(dir.path(), "box", &["g1"]);
    for json in [false, true] {
        let mut args = vec!["-c", cfg, "lockouts"];
        if json {
            args.push("--json");
        }
        args.extend(["reset", "box", ""]);
        let out = rebound(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
        assert_eq!(
            text(&out.stderr).trim(),
            "error: ENTITY \"\" is empty: name an entity of box (rebound lockouts lists them), or leave it out to release every lock of box"
        );
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }
    let out = rebound(&["-c", cfg, "lockouts", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["counts"]["box"], 1, "still locked");
}
