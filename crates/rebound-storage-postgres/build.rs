//! Rebuilds the crate when a migration changes.
//!
//! `sqlx::migrate!` embeds `migrations/` at compile time, but on stable Rust
//! a proc macro cannot tell Cargo which files it read, so without this an
//! edited or added migration would not be picked up until some Rust file
//! changed too.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
