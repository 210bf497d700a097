//! Keeps the database password out of every message this crate produces.
//!
//! Store errors end up in logs, terminal output and bug reports. The URL is
//! shown with its password masked ([`mask_url_password`]), and as a second
//! line of defence any message is scrubbed of the password itself, in the
//! URL's percent-encoded spelling and decoded, in case a driver error ever
//! quotes it.

use percent_encoding::percent_decode_str;
use rebound_domain::plan::mask_url_password;

/// What must never be shown of one database URL.
#[derive(Clone)]
pub(crate) struct Redactor {
    masked_url: String,
    /// The password as written in the URL and as decoded; empty when the
    /// URL has none.
    secrets: Vec<String>,
}

impl Redactor {
    pub(crate) fn new(url: &str) -> Redactor {
        let mut secrets = Vec::new();
        if let Some(raw) = password(url).filter(|p| !p.is_empty()) {
            let decoded = percent_decode_str(raw).decode_utf8_lossy().into_owned();
            if decoded != raw && !decoded.is_empty() {
                secrets.push(decoded);
            }
            secrets.push(raw.to_string());
        }
        Redactor {
            masked_url: mask_url_password(url),
            secrets,
        }
    }

    /// The URL, with `***` for its password.
    pub(crate) fn url(&self) -> &str {
        &self.masked_url
    }

    pub(crate) fn scrub(&self, message: String) -> String {
        self.secrets
            .iter()
            .fold(message, |text, secret| text.replace(secret.as_str(), "***"))
    }
}

/// The password part of `scheme://user:password@host/...`, located the same
/// way `mask_url_password` does, so both agree on what the secret is.
fn password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    let colon = authority.find(':')?;
    (colon < at).then(|| &authority[colon + 1..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_scrubs_both_spellings() {
        let r = Redactor::new("postgres://app:p%40ss%20w0rd@db:5432/x");
        assert_eq!(r.url(), "postgres://app:***@db:5432/x");
        assert_eq!(
            r.scrub("auth failed for p@ss w0rd and p%40ss%20w0rd".to_string()),
            "auth failed for *** and ***"
        );
    }

    #[test]
    fn url_without_password_is_left_alone() {
        let r = Redactor::new("postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(r.url(), "postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(r.scrub("postgres".to_string()), "postgres");
        assert_eq!(password("not a url"), None);
        assert_eq!(password("postgres://u:@h/db"), Some(""));
    }
}
