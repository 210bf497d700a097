//! Base URLs that cannot be requested, `follow_redirects`, and config files
//! that cannot be read: each refused with a message that says why (issue
//! 11, items 1 and 17).

use super::bad_files::{Case, check};
use super::{BASE, FILE, fake_env, plan};
use rebound_domain::plan::FollowRedirects;
use std::path::Path;

fn source(
    name: &'static str,
    keys: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        text: format!("{BASE}[sources.b]\n{keys}\n"),
        key,
        at,
        says,
    }
}

#[test]
fn base_urls_that_do_not_parse_or_have_no_host_are_refused() {
    check(vec![
        source(
            "port out of range",
            "base_url = \"https://b:99999/v1\"",
            "sources.b.base_url",
            "\"https://b:99999/v1\"",
            "not a valid URL (invalid port number): \"https://b:99999/v1\"",
        ),
        // Accepted before; every call then failed to connect.
        source(
            "port zero",
            "base_url = \"http://127.0.0.1:0/api\"",
            "sources.b.base_url",
            "\"http://127.0.0.1:0/api\"",
            "the URL \"http://127.0.0.1:0/api\" has port 0, which no connection can reach",
        ),
        source(
            "space in host",
            "base_url = \"https://a b.example\"",
            "sources.b.base_url",
            "\"https://a b.example\"",
            "not a valid URL (invalid international domain name): \"https://a b.example\"",
        ),
        source(
            "no host, only a port",
            "base_url = \"http://:8080\"",
            "sources.b.base_url",
            "\"http://:8080\"",
            "the URL \"http://:8080\" has no host",
        ),
        source(
            "no host, only a path",
            "base_url = \"https:///v1\"",
            "sources.b.base_url",
            "\"https:///v1\"",
            "the URL \"https:///v1\" has no host",
        ),
        source(
            "bad follow_redirects",
            "base_url = \"https://b\"\nfollow_redirects = \"always\"",
            "sources.b.follow_redirects",
            "\"always\"",
            "expected \"same_host\", \"any\" or \"none\", found \"always\"",
        ),
    ]);
}

#[test]
fn templated_hosts_and_ports_are_still_accepted() {
    let plan = plan(&format!(
        "{BASE}[sources.b]\nbase_url = \"https://{{region}}.b.example:8443/{{version}}\"\n"
    ));
    assert!(plan.sources.contains_key("b"));
}

/// `path = ""` is not a slip: it calls base_url itself, the one way to
/// call a source whose base_url is the endpoint (`"/"` adds a slash, and
/// `https://cdn.example/feed.json/` is another URL).
#[test]
fn an_empty_path_calls_the_base_url_itself() {
    let plan = plan(&format!(
        "{BASE}[sources.b]\nbase_url = \"https://cdn.example/feed.json\"\n\n\
         [scrapers.feed]\nsource = \"b\"\npath = \"\"\n"
    ));
    let path = &plan.scrapers["feed"].path;
    assert_eq!(path.render(&Default::default()).unwrap(), "");
}

#[test]
fn follow_redirects_defaults_to_same_host() {
    let plan = plan(&format!(
        "{BASE}[sources.b]\nbase_url = \"https://b\"\nfollow_redirects = \"any\"\n\
         [sources.c]\nbase_url = \"https://c\"\nfollow_redirects = \"none\"\n"
    ));
    assert_eq!(
        plan.sources["api"].follow_redirects,
        FollowRedirects::SameHost
    );
    assert_eq!(plan.sources["b"].follow_redirects, FollowRedirects::Any);
    assert_eq!(plan.sources["c"].follow_redirects, FollowRedirects::None);
    let summary = rebound_config::summary(&plan);
    assert!(
        summary.contains(
            "redirects (2):\n  b: follow_redirects = \"any\": other hosts too, without the source's headers and query\n  c: follow_redirects = \"none\": no redirect is followed\n"
        ),
        "{summary}"
    );
}

#[test]
fn a_config_file_that_is_not_utf8_names_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    let mut bytes = b"[pipeline]\nname = \"caf".to_vec();
    bytes.push(0xE9); // Latin-1 "é": not UTF-8.
    bytes.extend_from_slice(b"\"\n");
    std::fs::write(&path, &bytes).unwrap();
    let err = rebound_config::load(&path, &fake_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:12: not UTF-8 at byte 22: a config file is UTF-8 text",
            path.display()
        )
    );
    // A problem with its place, for `check --json` (line and column were null).
    let problem = &err.problems()[0];
    assert_eq!((problem.line, problem.column), (2, 12));
}

#[test]
fn a_config_path_that_is_a_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = rebound_config::load(dir.path(), &fake_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read config file {}: it is a directory, not a file",
            dir.path().display()
        )
    );
}

#[test]
fn an_unreadable_config_file_says_permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    std::fs::write(&path, BASE).unwrap();
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    // The wording, whoever runs the tests.
    assert_eq!(
        rebound_config::read_error_reason(&denied),
        "permission denied"
    );
    // The real thing, where file modes apply: root reads any file, so the
    // tests (run as root in CI) cannot make one unreadable.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_ok() {
        return;
    }
    let err = rebound_config::load(Path::new(&path), &fake_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read config file {}: permission denied",
            path.display()
        )
    );
}
