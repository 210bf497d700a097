//! Integration tests of `rebound-alerts`, one binary: the state machine on
//! a simulated clock, the conditions on hand-made reports, and deliveries
//! over loopback HTTP to an in-process receiver with a real store.

mod conditions;
mod delivery;
mod grouping;
mod machine;
mod reports;
mod scenarios;
