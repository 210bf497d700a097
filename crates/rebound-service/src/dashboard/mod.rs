//! The web dashboard at `/` (issue 16 item 3): server-rendered pages on the
//! one router of `crate::http`, sharing its [`Web`] state.

use crate::http::Web;
use axum::Router;
use std::sync::Arc;

/// The dashboard's routes; empty until they are built.
pub(crate) fn router() -> Router<Arc<Web>> {
    Router::new()
}
