//! `[server]`: where `rebound serve` answers HTTP (`/metrics`, `/healthz`,
//! the JSON API and the dashboard), and who may use the API.

use super::Resolver;
use crate::keypath::KeyPath;
use crate::raw::RawServer;
use rebound_domain::plan::{ApiToken, ServerSettings};
use std::net::{IpAddr, SocketAddr};

impl Resolver<'_> {
    pub(super) fn server(&mut self, raw: &RawServer) -> ServerSettings {
        let path = KeyPath::root().key("server").key("listen");
        let listen = raw.listen.as_deref().and_then(|text| {
            let read_from = self.secrets.len();
            let text = self.text(&path, text)?;
            match parse_listen(&text) {
                Ok(addr) => self.setting(read_from, Some(addr)),
                Err(message) => {
                    self.fail(&path, message);
                    None
                }
            }
        });
        let unset_before = self.unset.len();
        let token = raw.token.as_deref().and_then(|text| {
            let path = KeyPath::root().key("server").key("token");
            let token = self.text(&path, text)?;
            // A literal token is as secret as one from the environment.
            self.secrets.push(token.clone());
            match token.chars().count() {
                // An unset variable where the command does not need it
                // (reports): as if no token were configured.
                0 => None,
                n if n < MIN_TOKEN_CHARS => {
                    self.fail(
                        &path,
                        format!(
                            "expected a token of at least {MIN_TOKEN_CHARS} characters, found {n}; generate one with e.g. `openssl rand -hex 32` and pass it as \"${{REBOUND_API_TOKEN}}\""
                        ),
                    );
                    None
                }
                _ => Some(ApiToken::new(token)),
            }
        });
        let token_unset = self.unset[unset_before..]
            .first()
            .map(|(_, var)| var.clone());
        ServerSettings {
            listen,
            token,
            public_read: raw.public_read.unwrap_or(false),
            token_unset,
        }
    }
}

/// Shorter tokens can be guessed, and would mask common text in output.
const MIN_TOKEN_CHARS: usize = 16;

/// An IP address and a port. Host names are refused rather than looked
/// up: resolving would make loading a config depend on DNS, and a name
/// with several addresses would leave the bound one to chance.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // A port alone (`9464`, or `:9464` as some servers take it) is the
    // likely slip; "which has no port" said the opposite of what was
    // missing.
    let port_alone = text.strip_prefix(':').unwrap_or(text);
    if !port_alone.is_empty()
        && port_alone.bytes().all(|b| b.is_ascii_digit())
        && let Ok(port) = port_alone.parse::<u16>()
    {
        return Err(format!(
            "expected an IP address and a port; found \"{text}\", which is only a port: write \"127.0.0.1:{port}\" (this machine only) or \"0.0.0.0:{port}\" (every interface)"
        ));
    }
    let hint = "expected an IP address and a port such as \"127.0.0.1:9464\", \"0.0.0.0:9464\" (every interface) or \"[::1]:9464\"";
    // An IPv6 address holds colons of its own: `::1` is an address with
    // no port, not a host ":" with port 1.
    if text.parse::<IpAddr>().is_ok() {
        return Err(format!("{hint}; found \"{text}\", which has no port"));
    }
    match text.rsplit_once(':') {
        None => Err(format!("{hint}; found \"{text}\", which has no port")),
        Some((_, port)) if port.parse::<u16>().is_err() => Err(format!(
            "{hint}; found \"{text}\", whose port \"{port}\" is not a number from 0 to 65535"
        )),
        Some((host, _)) => Err(format!(
            "{hint}; found \"{text}\": \"{host}\" is not an IP address (host names are not looked up)"
        )),
    }
}
