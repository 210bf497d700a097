//! Keeps the database password out of every message this crate produces.
//!
//! Store errors end up in logs, terminal output and bug reports. The URL is
//! shown with its passwords masked ([`mask_url_password`]: the userinfo's
//! and a `?password=`), and as a second line of defence any message is
//! scrubbed of each password itself, in the URL's percent-encoded spelling
//! and decoded, in case a driver error ever quotes it. The scrubbing is
//! the config's own [`rebound_domain::redact::Redactor`]: a password too
//! short to be masked inside any text without mangling it ("ab" in
//! "database") is masked only where it stands as a URL's password.

use percent_encoding::percent_decode_str;
use rebound_domain::plan::{mask_url_password, url_passwords};

/// What must never be shown of one database URL.
#[derive(Clone)]
pub(crate) struct Redactor {
    masked_url: String,
    /// Its passwords as written in the URL and as decoded.
    secrets: rebound_domain::redact::Redactor,
}

impl Redactor {
    pub(crate) fn new(url: &str) -> Redactor {
        let mut secrets = Vec::new();
        for raw in url_passwords(url) {
            let decoded = percent_decode_str(raw).decode_utf8_lossy().into_owned();
            secrets.push(raw.to_string());
            secrets.push(decoded);
        }
        Redactor {
            masked_url: mask_url_password(url),
            secrets: rebound_domain::redact::Redactor::new(secrets),
        }
    }

    /// The URL, with `***` for its passwords.
    pub(crate) fn url(&self) -> &str {
        &self.masked_url
    }

    pub(crate) fn scrub(&self, message: String) -> String {
        self.secrets.redact(&message).into_owned()
    }
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
        assert!(url_passwords("not a url").is_empty());
        assert!(url_passwords("postgres://u:@h/db").is_empty());
    }

    #[test]
    fn a_query_password_is_masked_and_scrubbed() {
        let r = Redactor::new("postgres://app@db/x?password=s%26cret-long&sslmode=disable");
        assert_eq!(r.url(), "postgres://app@db/x?password=***&sslmode=disable");
        assert_eq!(
            r.scrub("failed with s&cret-long, s%26cret-long".to_string()),
            "failed with ***, ***"
        );
    }

    #[test]
    fn a_short_password_is_not_masked_inside_words() {
        // It used to turn "database" into "dat***ase".
        let r = Redactor::new("postgres://app:ab@db/x");
        assert_eq!(
            r.scrub("the database at postgres://app:ab@db/x is down".to_string()),
            "the database at postgres://app:***@db/x is down"
        );
    }
}
