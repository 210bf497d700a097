//! Test helpers shared by Rebound's crates.
//!
//! They live in one crate so that every implementation of a contract is held
//! to the same checks: [`store_conformance`] is run by each history backend,
//! which is how SQLite and PostgreSQL are kept interchangeable. This crate
//! depends on contracts only (never on a backend or a driver), so any crate
//! can use it as a dev-dependency without pulling the others in.

pub mod configs;
pub mod forward_proxy;
pub mod nats;
pub mod prometheus;
pub mod store_conformance;
pub mod tcp_relay;
pub mod webhook;
