//! `[server] listen`: the address of `rebound serve`'s HTTP endpoint.

use super::bad_files::{Case, check};
use super::{BASE, FILE, error, plan};
use std::net::SocketAddr;

#[test]
fn listen_is_optional_and_parsed() {
    assert_eq!(plan(BASE).server.listen, None, "absent: no HTTP server");
    for (text, expected) in [
        ("127.0.0.1:9464", "127.0.0.1:9464"),
        ("0.0.0.0:9464", "0.0.0.0:9464"),
        ("[::1]:9464", "[::1]:9464"),
        ("127.0.0.1:0", "127.0.0.1:0"),
    ] {
        let file = format!("{BASE}\n[server]\nlisten = \"{text}\"\n");
        let expected: SocketAddr = expected.parse().expect("test address");
        assert_eq!(plan(&file).server.listen, Some(expected), "{text}");
    }
    let empty = format!("{BASE}\n[server]\n");
    assert_eq!(plan(&empty).server.listen, None, "[server] without listen");
}

#[test]
fn listen_from_the_environment() {
    // fake_env sets every variable to "fake-NAME": not an address, and the
    // message must not show the (secret) value.
    let file = format!("{BASE}\n[server]\nlisten = \"${{LISTEN}}\"\n");
    let message = error(&file);
    assert!(message.contains("server.listen"), "{message}");
    assert!(!message.contains("fake-LISTEN"), "{message}");
}

fn case(name: &'static str, listen: &str, at: &'static str, says: &'static str) -> Case {
    Case {
        name,
        text: format!("{BASE}\n[server]\nlisten = {listen}\n"),
        key: "server.listen",
        at,
        says,
    }
}

#[test]
fn bad_listen_values_name_the_key_and_position() {
    let cases = vec![
        case(
            "host name",
            "\"localhost:9464\"",
            "\"localhost:9464\"",
            "\"localhost\" is not an IP address (host names are not looked up)",
        ),
        case(
            "no port",
            "\"127.0.0.1\"",
            "\"127.0.0.1\"",
            "found \"127.0.0.1\", which has no port",
        ),
        case(
            "port out of range",
            "\"127.0.0.1:99999\"",
            "\"127.0.0.1:99999\"",
            "port \"99999\" is not a number from 0 to 65535",
        ),
        case(
            "port not a number",
            "\"127.0.0.1:metrics\"",
            "\"127.0.0.1:metrics\"",
            "expected an IP address and a port such as \"127.0.0.1:9464\"",
        ),
        case(
            "not a string",
            "9464",
            "9464",
            "expected a string, found integer `9464`",
        ),
        Case {
            name: "unknown key",
            text: format!("{BASE}\n[server]\nport = 9464\n"),
            key: "server.port",
            at: "port",
            says: "unknown key \"port\"; allowed keys: listen",
        },
    ];
    check(cases);
}

/// A port alone is missing its address, not its port; the message said
/// "which has no port" and offered no fix.
#[test]
fn a_port_alone_says_the_address_is_missing() {
    for (listen, port) in [("9464", "9464"), (":9464", "9464"), ("0", "0")] {
        let text = format!("{BASE}\n[server]\nlisten = \"{listen}\"\n");
        let line = text.lines().count();
        assert_eq!(
            error(&text),
            format!(
                "{FILE}:{line}:10: server.listen: expected an IP address and a port; found \"{listen}\", which is only a port: write \"127.0.0.1:{port}\" (this machine only) or \"0.0.0.0:{port}\" (every interface)"
            )
        );
    }
}

/// An IPv6 address without a port is named as such, not as host ":"
/// with port 1.
#[test]
fn an_ipv6_address_alone_has_no_port() {
    let text = format!("{BASE}\n[server]\nlisten = \"::1\"\n");
    let line = text.lines().count();
    assert_eq!(
        error(&text),
        format!(
            "{FILE}:{line}:10: server.listen: expected an IP address and a port such as \"127.0.0.1:9464\", \"0.0.0.0:9464\" (every interface) or \"[::1]:9464\"; found \"::1\", which has no port"
        )
    );
}

#[test]
fn check_summary_names_the_endpoint() {
    let file = format!("{BASE}\n[server]\nlisten = \"127.0.0.1:9464\"\n");
    let text = rebound_config::summary(&plan(&file));
    assert!(
        text.contains(
            "server: rebound serve answers /metrics, /healthz and the API (/api/v1/, read-only: no token) on http://127.0.0.1:9464"
        ),
        "{text}"
    );
    let text = rebound_config::summary(&plan(BASE));
    assert!(
        !text.contains("server:"),
        "nothing scheduled, nothing said: {text}"
    );
}

/// The summary says what `serve` will do: off loopback without a token
/// every read is refused (it said "read-only: no token"), and a token
/// whose variable is not set is not "no token": `serve` refuses to start.
#[test]
fn check_summary_says_what_serve_will_do_with_the_api() {
    let says = |server: &str, secrets: rebound_config::Secrets| {
        let file = format!("{BASE}\n[server]\n{server}\n");
        let loaded = rebound_config::load_str_with(
            &file,
            std::path::Path::new("r.toml"),
            &super::fake_env,
            secrets,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        rebound_config::summary(&loaded.plan)
    };
    let all = rebound_config::Secrets::All;
    for (server, expected) in [
        (
            "listen = \"0.0.0.0:9464\"",
            "the API (/api/v1/, every request refused: no token, and reads off loopback need one) on http://0.0.0.0:9464",
        ),
        (
            "listen = \"0.0.0.0:9464\"\npublic_read = true",
            "the API (/api/v1/, read-only: no token) on http://0.0.0.0:9464",
        ),
        (
            "listen = \"0.0.0.0:9464\"\ntoken = \"${API_TOKEN_LONG_ENOUGH}\"",
            "the API (/api/v1/, reads and mutations with the token) on http://0.0.0.0:9464",
        ),
        (
            "listen = \"127.0.0.1:9464\"\ntoken = \"${API_TOKEN_LONG_ENOUGH}\"",
            "the API (/api/v1/, mutations with the token) on http://127.0.0.1:9464",
        ),
    ] {
        let text = says(server, all);
        assert!(text.contains(expected), "{server}: {text}");
    }
    let text = says(
        "listen = \"127.0.0.1:9464\"\ntoken = \"${MISSING_TOKEN}\"",
        rebound_config::Secrets::None,
    );
    assert!(
        text.contains("the API (/api/v1/, token from MISSING_TOKEN, which is not set: serve refuses to start until it is)"),
        "{text}"
    );
    assert!(!text.contains("no token"), "{text}");
}

#[test]
fn schema_describes_server_listen() {
    let schema = rebound_config::json_schema();
    let server = schema
        .pointer("/$defs/RawServer")
        .unwrap_or_else(|| panic!("no RawServer in {schema}"));
    assert_eq!(server["additionalProperties"], false);
    let listen = &server["properties"]["listen"];
    assert_eq!(listen["type"], "string", "{listen}");
    assert!(
        listen["description"]
            .as_str()
            .is_some_and(|d| d.contains("/metrics")),
        "{listen}"
    );
    assert!(schema.pointer("/properties/server").is_some());
}

#[test]
fn the_api_token_is_a_secret_and_public_read_defaults_to_false() {
    // fake_env gives API_TOKEN_LONG the value "fake-API_TOKEN_LONG".
    let file =
        format!("{BASE}\n[server]\nlisten = \"0.0.0.0:9464\"\ntoken = \"${{API_TOKEN_LONG}}\"\n");
    let plan = plan(&file);
    let token = plan.server.token.as_ref().expect("a token");
    assert_eq!(token.expose(), "fake-API_TOKEN_LONG");
    assert!(!plan.server.public_read);
    assert!(
        plan.server.reads_need_token(),
        "beyond loopback, not public"
    );
    assert!(!format!("{plan:?}").contains("fake-API_TOKEN_LONG"));
    assert_eq!(
        plan.redactor.redact_string("Bearer fake-API_TOKEN_LONG"),
        "Bearer ***"
    );

    let open = format!("{BASE}\n[server]\nlisten = \"0.0.0.0:9464\"\npublic_read = true\n");
    let plan = self::plan(&open);
    assert!(plan.server.public_read);
    assert!(plan.server.token.is_none());
    assert!(!plan.server.reads_need_token());
    let local = format!("{BASE}\n[server]\nlisten = \"127.0.0.1:9464\"\n");
    assert!(!self::plan(&local).server.reads_need_token(), "loopback");
    for listen in ["[::1]:9464", "[::ffff:127.0.0.1]:9464"] {
        let local = format!("{BASE}\n[server]\nlisten = \"{listen}\"\n");
        let plan = self::plan(&local);
        assert!(!plan.server.listens_beyond_loopback(), "{listen}");
    }
    let mapped = format!("{BASE}\n[server]\nlisten = \"[::ffff:10.0.0.1]:9464\"\n");
    assert!(self::plan(&mapped).server.listens_beyond_loopback());
}

#[test]
fn a_short_api_token_is_refused_without_showing_it() {
    let file = format!("{BASE}\n[server]\ntoken = \"${{TK}}\"\n");
    let message = error(&file);
    assert!(message.contains("server.token"), "{message}");
    assert!(
        message.contains("at least 16 characters, found 7"),
        "{message}"
    );
    assert!(!message.contains("fake-TK"), "{message}");
}
