//! `[server]`: where `rebound serve` answers HTTP (`/metrics`, `/healthz`).

use super::Resolver;
use crate::keypath::KeyPath;
use crate::raw::RawServer;
use rebound_domain::plan::ServerSettings;
use std::net::SocketAddr;

impl Resolver<'_> {
    pub(super) fn server(&mut self, raw: &RawServer) -> ServerSettings {
        let path = KeyPath::root().key("server").key("listen");
        let listen = raw.listen.as_deref().and_then(|text| {
            let text = self.text(&path, text)?;
            match parse_listen(&text) {
                Ok(addr) => Some(addr),
                Err(message) => {
                    self.fail(&path, message);
                    None
                }
            }
        });
        ServerSettings { listen }
    }
}

/// An IP address and a port. Host names are refused rather than looked
/// up: resolving would make loading a config depend on DNS, and a name
/// with several addresses would leave the bound one to chance.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let hint = "expected an IP address and a port such as \"127.0.0.1:9464\", \"0.0.0.0:9464\" (every interface) or \"[::1]:9464\"";
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
