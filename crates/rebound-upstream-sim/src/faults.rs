//! A hook that decides, request by request, whether the simulated upstream
//! misbehaves: answer a status instead of the route, drop the connection,
//! empty or reshape the route's own answer, or wait first.
//!
//! Scripts ([`crate::UpstreamSim::script`]) queue replies for a test that
//! knows how many requests a path will get. A simulation of days does not:
//! whether a request meets an outage depends on *when* it comes (on the
//! simulation's clock, not the wall clock) and on what came before it (a
//! rate limit's window, a seeded coin for transient faults). That decision
//! belongs to whoever owns the clock and the scenario, so the upstream only
//! asks a [`FaultHook`] and carries out its [`FaultAction`]; it still knows
//! nothing of Rebound.

use crate::reply::Reply;
use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::Response;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// What the hook is asked about: one request, before any route sees it.
#[derive(Debug, Clone)]
pub struct FaultRequest {
    /// As sent (still percent-encoded), without the query.
    pub path: String,
    pub query: Option<String>,
}

/// What happens to one request.
#[derive(Debug, Clone)]
pub enum FaultAction {
    /// The route answers as usual.
    Pass,
    /// This reply instead of the route's.
    Reply(Reply),
    /// The connection is closed without any answer (a host that is down).
    Drop,
    /// The route's answer with every JSON array in it emptied (records
    /// gone, shape kept); a non-JSON body becomes empty.
    Empty,
    /// The route's JSON answer moved one level down, under `"data_v2"`,
    /// so record pointers no longer find it.
    Reshape,
}

/// A future the hook returns: it may wait (a slow answer) before deciding.
pub type FaultFuture = Pin<Box<dyn Future<Output = FaultAction> + Send + 'static>>;

/// Decides each request's fate; installed with
/// [`crate::UpstreamSim::set_fault_hook`].
pub trait FaultHook: Send + Sync + 'static {
    fn decide(&self, request: &FaultRequest) -> FaultFuture;
}

/// The route's response rewritten for [`FaultAction::Empty`] or
/// [`FaultAction::Reshape`]; other responses pass unchanged.
pub(crate) async fn alter(response: Response, action: &FaultAction) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    let new_body = match (action, json) {
        (FaultAction::Empty, Some(mut value)) => {
            empty_arrays(&mut value);
            value.to_string().into_bytes()
        }
        (FaultAction::Empty, None) => Vec::new(),
        (FaultAction::Reshape, Some(value)) => serde_json::json!({ "data_v2": value })
            .to_string()
            .into_bytes(),
        _ => bytes.to_vec(),
    };
    parts.headers.remove(CONTENT_LENGTH);
    if new_body.is_empty() {
        parts.headers.remove(CONTENT_TYPE);
    }
    Response::from_parts(parts, Body::from(new_body))
}

fn empty_arrays(value: &mut Value) {
    match value {
        Value::Array(items) => items.clear(),
        Value::Object(map) => map.values_mut().for_each(empty_arrays),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_keeps_the_shape_and_drops_every_record() {
        let mut value = serde_json::json!({"data": [1, 2], "meta": {"rows": [[1]], "n": 2}});
        empty_arrays(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"data": [], "meta": {"rows": [], "n": 2}})
        );
    }
}
