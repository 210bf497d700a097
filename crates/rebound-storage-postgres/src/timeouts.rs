//! The bounds on waiting for the server: the connect timeout (from the
//! URL's `connect_timeout=N`, which sqlx does not know, so it is taken out
//! here) and the default server-side statement timeout.

use crate::DEFAULT_STATEMENT_TIMEOUT;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use std::time::Duration;
use url::Url;

/// The connect options of `url`, and its `connect_timeout` if it has one.
///
/// `connect_timeout` is libpq's spelling (whole seconds), so a URL that
/// works with `psql` works here; sqlx would ignore it with a warning. Zero,
/// which libpq reads as "wait forever", is refused: waiting forever is the
/// hang this bound exists to end.
pub(crate) fn parse_url(url: &str) -> Result<(PgConnectOptions, Option<Duration>), String> {
    let Ok(mut parsed) = Url::parse(url) else {
        // Not a URL at all: sqlx says why as well as anyone.
        let options = url.parse::<PgConnectOptions>().map_err(|e| e.to_string())?;
        return Ok((options, None));
    };
    let mut timeout = None;
    let mut kept = Vec::new();
    for (key, value) in parsed.query_pairs() {
        if key == "connect_timeout" {
            timeout = Some(seconds(&value)?);
        } else {
            kept.push((key.into_owned(), value.into_owned()));
        }
    }
    if timeout.is_some() {
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    let options = PgConnectOptions::from_url(&parsed).map_err(|e| e.to_string())?;
    Ok((options, timeout))
}

fn seconds(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "connect_timeout={value:?} in the database URL is not a whole number of seconds \
             of at least 1"
        )),
    }
}

/// Adds the default statement timeout unless the URL's `options` already
/// set one (`options[statement_timeout]=30s`), which is then kept.
pub(crate) fn with_statement_timeout(options: PgConnectOptions) -> PgConnectOptions {
    let already = options
        .get_options()
        .is_some_and(|o| o.contains("statement_timeout"));
    if already {
        options
    } else {
        options.options([("statement_timeout", DEFAULT_STATEMENT_TIMEOUT)])
    }
}

/// The `statement_timeout` the connections use (from the URL's `options`
/// or the default); `None` when it is off (`0`) or not read.
pub(crate) fn statement_timeout(options: &PgConnectOptions) -> Option<Duration> {
    let options = options.get_options()?;
    let value = options
        .split_whitespace()
        .find_map(|part| part.strip_prefix("statement_timeout="))?;
    pg_duration(value.trim_matches(['\'', '"']))
}

/// A PostgreSQL time setting: a number with a unit (`us`, `ms`, `s`,
/// `min`, `h`, `d`) or without one (milliseconds). `None` for zero (no
/// limit) and for what is not such a value.
fn pg_duration(value: &str) -> Option<Duration> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = number
        * match unit.trim() {
            "us" => 1e-6,
            "" | "ms" => 1e-3,
            "s" => 1.0,
            "min" => 60.0,
            "h" => 3_600.0,
            "d" => 86_400.0,
            _ => return None,
        };
    (seconds > 0.0).then(|| Duration::try_from_secs_f64(seconds).ok())?
}

/// How long the client waits for any one answer: the statement timeout
/// and a margin (a tenth of it, from 1 to 30 seconds) for the server to
/// say so. The server's own timeout cannot help when it never receives
/// the statement: a connection whose network path went dead (a firewall
/// or load balancer that still acknowledges) left a scheduler or worker
/// waiting forever, scheduling nothing and saying nothing. `None` when the
/// statement timeout is off: then a statement may legitimately run
/// without end.
pub(crate) fn reply_within(options: &PgConnectOptions) -> Option<Duration> {
    let statement = statement_timeout(options)?;
    let margin = (statement / 10).clamp(Duration::from_secs(1), Duration::from_secs(30));
    // Saturating: an absurd timeout in the URL must not overflow here.
    Some(statement.saturating_add(margin))
}

/// Where the server is, for messages: `host:port` (IPv6 hosts in
/// brackets), or the Unix socket's folder. Never the user or password.
pub(crate) fn server_address(options: &PgConnectOptions) -> String {
    if let Some(socket) = options.get_socket() {
        return socket.display().to_string();
    }
    let host = options.get_host();
    // A host from a URL keeps its brackets; one set in code may not.
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_is_taken_out_of_the_url() {
        let (options, timeout) =
            parse_url("postgres://u:pw@db.example:6543/x?connect_timeout=7&sslmode=disable")
                .unwrap();
        assert_eq!(timeout, Some(Duration::from_secs(7)));
        assert_eq!(server_address(&options), "db.example:6543");
        assert_eq!(options.get_database(), Some("x"));

        let (options, timeout) = parse_url("postgres://u@[::1]/x").unwrap();
        assert_eq!(timeout, None);
        assert_eq!(server_address(&options), "[::1]:5432");
    }

    #[test]
    fn the_reply_bound_follows_the_statement_timeout() {
        let bound = |url: &str| reply_within(&with_statement_timeout(parse_url(url).unwrap().0));
        assert_eq!(
            bound("postgres://u@h/x"),
            Some(Duration::from_secs(330)),
            "5 minutes and 30 seconds"
        );
        assert_eq!(
            bound("postgres://u@h/x?options[statement_timeout]=2s"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            bound("postgres://u@h/x?options[statement_timeout]=1500"),
            Some(Duration::from_millis(2500)),
            "a bare number is milliseconds"
        );
        assert_eq!(
            bound("postgres://u@h/x?options[statement_timeout]=1h"),
            Some(Duration::from_secs(3_630))
        );
        assert_eq!(
            bound("postgres://u@h/x?options[statement_timeout]=0"),
            None,
            "off: no bound"
        );
        // Absurd values neither panic nor overflow.
        assert!(
            bound("postgres://u@h/x?options[statement_timeout]=18446744073709549568s").is_some()
        );
        assert_eq!(
            bound("postgres://u@h/x?options[statement_timeout]=18446744073709551615s"),
            None,
            "past what a duration holds: not read"
        );
        assert_eq!(
            bound("postgres://u@h/x?options[statement_timeout]=1e400"),
            None
        );
        assert_eq!(
            bound("postgres://u@h/x?options[statement_timeout]=-5s"),
            None
        );
    }

    #[test]
    fn statement_timeout_from_the_url_is_kept() {
        let (options, _) = parse_url("postgres://u@h/x").unwrap();
        assert_eq!(
            with_statement_timeout(options).get_options(),
            Some("-c statement_timeout=5min")
        );
        let (options, _) = parse_url("postgres://u@h/x?options[statement_timeout]=7s").unwrap();
        assert_eq!(
            with_statement_timeout(options).get_options(),
            Some("-c statement_timeout=7s")
        );
    }
}
