//! The JSON API under `/api/v1/` (issue 16 item 2): routes are added to the
//! one router of `crate::http`, sharing its [`Web`] state.

use crate::http::Web;
use axum::Router;
use std::sync::Arc;

/// The API's routes; empty until they are built.
pub(crate) fn router() -> Router<Arc<Web>> {
    Router::new()
}
