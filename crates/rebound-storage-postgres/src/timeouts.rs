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
