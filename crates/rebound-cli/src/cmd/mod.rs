//! One module per subcommand.

pub mod alerts;
pub mod backfill;
pub mod backup;
pub mod breakers;
pub mod check;
pub mod completions;
pub mod demo;
pub mod events;
pub mod freshness;
pub mod generate;
pub mod health;
pub mod init;
pub mod lockouts;
pub mod plan;
pub mod purge;
pub mod quotas;
pub mod run;
pub mod serve;
pub mod simulate;
pub mod status;
