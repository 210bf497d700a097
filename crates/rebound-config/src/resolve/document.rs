//! A scraper's document keys: `format`, `min_bytes`, `transform` and
//! `conditional` (see docs/documents.md). Each problem is reported against
//! its key; the rules that tie them to `records` and `paginate` are here
//! too, so they read in one place.

use super::Resolver;
use crate::error::closest;
use crate::keypath::KeyPath;
use crate::raw::RawScraper;
use rebound_domain::document::{PayloadFormat, Transform};

/// The resolved document keys of one scraper.
pub(super) struct DocumentKeys {
    pub format: PayloadFormat,
    pub min_bytes: u64,
    pub transform: Option<Transform>,
    pub conditional: bool,
}

impl Resolver<'_> {
    pub(super) fn document_keys(&mut self, path: &KeyPath, raw: &RawScraper) -> DocumentKeys {
        let format = match &raw.format {
            Some(text) => self
                .payload_format(&path.key("format"), text)
                .unwrap_or_default(),
            None => PayloadFormat::Json,
        };
        let transform = self.transform(path, raw);
        // What `records` and `min_bytes` read: the transform's output when
        // there is one, else the payload itself.
        let output = transform.as_ref().map_or(format, |t| t.format);
        if raw.records.is_some() && output != PayloadFormat::Json {
            let what = match &transform {
                Some(_) => format!("this scraper's transform writes \"{}\"", output.as_str()),
                None => format!("this scraper's format is \"{}\"", output.as_str()),
            };
            self.fail(
                &path.key("records"),
                format!(
                    "`records` applies to JSON only, but {what}; use `min_bytes` to decide when there is no data"
                ),
            );
        }
        let min_bytes = match raw.min_bytes {
            Some(n) => {
                let key = path.key("min_bytes");
                // It reads the document when that is not JSON, and a
                // transform's output when that is not.
                if format == PayloadFormat::Json && output == PayloadFormat::Json {
                    self.fail(
                        &key,
                        "`min_bytes` applies to formats other than JSON; for JSON, `records` decides when there is no data",
                    );
                }
                self.at_least::<u64>(&key, n, 1).unwrap_or(1)
            }
            None => 1,
        };
        if raw.paginate.is_some() && (format != PayloadFormat::Json || transform.is_some()) {
            // The pages are joined by their JSON records: nothing else can be.
            self.fail(
                &path.key("paginate"),
                "a paginated scraper must be JSON without a `transform`: its pages are joined by their records",
            );
        }
        let conditional = raw.conditional.unwrap_or(false);
        if conditional && raw.paginate.is_some() {
            self.fail(
                &path.key("conditional"),
                "`conditional` cannot be used with `paginate`: one page's 304 says nothing about the others",
            );
        }
        DocumentKeys {
            format,
            min_bytes,
            transform,
            conditional,
        }
    }

    fn payload_format(&mut self, key: &KeyPath, text: &str) -> Option<PayloadFormat> {
        let read_from = self.secrets.len();
        let text = self.text(key, text)?;
        if let Some(format) = PayloadFormat::parse(&text) {
            return self.setting(read_from, Some(format));
        }
        let names: Vec<String> = PayloadFormat::NAMES.iter().map(|n| n.to_string()).collect();
        let mut message = format!(
            "expected one of {}, found \"{text}\"",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(best) = closest(&text, &names) {
            message.push_str(&format!(" (did you mean \"{best}\"?)"));
        }
        self.fail(key, message);
        None
    }

    fn transform(&mut self, path: &KeyPath, raw: &RawScraper) -> Option<Transform> {
        let raw = raw.transform.as_ref()?;
        let path = path.key("transform");
        let command_path = path.key("command");
        let mut command = Vec::with_capacity(raw.command.len());
        let mut ok = true;
        for (n, part) in raw.command.iter().enumerate() {
            match self.text(&command_path.index(n), part) {
                Some(text) => command.push(text),
                None => ok = false,
            }
        }
        match command.first() {
            None if ok => {
                self.fail(
                    &command_path,
                    "expected the program and its arguments, e.g. [\"python3\", \"parsers/report.py\"], found an empty list",
                );
                ok = false;
            }
            Some(program) if program.trim().is_empty() => {
                self.fail(&command_path.index(0), "the program name must not be empty");
                ok = false;
            }
            _ => {}
        }
        let timeout = match &raw.timeout {
            Some(text) => {
                let key = path.key("timeout");
                match self.duration(&key, text) {
                    Some(d) if d.is_zero() => {
                        self.fail(&key, "expected a duration longer than zero, found \"0s\"");
                        None
                    }
                    other => other,
                }
            }
            None => Some(Transform::DEFAULT_TIMEOUT),
        };
        let format = match &raw.format {
            Some(text) => self.payload_format(&path.key("format"), text),
            None => Some(PayloadFormat::Json),
        };
        // Read through the caller's lookup like every `${VAR}`: the CLI's
        // process environment, or what a test passes.
        let env = Transform::PASSED_ENV
            .iter()
            .filter_map(|name| (self.env)(name).map(|value| (name.to_string(), value)))
            .collect();
        Some(Transform {
            command: ok.then_some(command)?,
            dir: self.base_dir.to_path_buf(),
            timeout: timeout?,
            format: format?,
            env,
            keep_running: raw.keep_running.unwrap_or(false),
        })
    }
}
