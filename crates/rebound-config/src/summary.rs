//! The short description `rebound check` prints of a valid plan.
//!
//! It answers "did Rebound read my file the way I meant?": resolved paths,
//! what is defined, and each workflow's step order. Everything is passed
//! through the plan's redactor on the way out, since names and locations
//! may themselves have come from `${VAR}`.

use rebound_domain::plan::Plan;
use std::fmt::Write;

/// A human summary of `plan`, several lines, without secrets.
pub fn summary(plan: &Plan) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; `let _` keeps that visible.
    let p = &plan.pipeline;
    let _ = writeln!(out, "pipeline {} (time zone {})", p.name, p.timezone.name());
    if let Some(path) = &plan.config_path {
        let _ = writeln!(out, "  config:    {}", path.display());
    }
    let _ = writeln!(out, "  database:  {}", p.database.display_safe());
    let _ = writeln!(out, "  raw store: {}", p.raw_store.display());
    list(&mut out, "sources", plan.sources.keys());
    list(&mut out, "scrapers", plan.scrapers.keys());
    let _ = writeln!(out, "workflows ({}):", plan.workflows.len());
    for (name, workflow) in &plan.workflows {
        let _ = writeln!(out, "  {name}");
        for (n, step) in workflow.steps.iter().enumerate() {
            let _ = write!(out, "    {}. {}", n + 1, step.scrapers.join(", "));
            if !step.after.is_empty() {
                let _ = write!(out, " (after {})", step.after.join(", "));
            }
            out.push('\n');
        }
    }
    plan.redactor.redact_string(&out)
}

fn list<'a>(out: &mut String, what: &str, names: impl ExactSizeIterator<Item = &'a String>) {
    let count = names.len();
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        let _ = writeln!(out, "{what} (0)");
    } else {
        let _ = writeln!(out, "{what} ({count}): {}", names.join(", "));
    }
}
