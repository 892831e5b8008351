//! The node's own endpoints for orchestrators: `/health` (the process serves HTTP: 200 as
//! soon as it listens) and `/ready` (200 only while the projection is within
//! `ready_max_lag` events of the log's end, else 503), both answering the same JSON: node
//! id, applied position, log end, lag, and where the projection started. Also the router a
//! node serves while it cannot serve DICOMweb yet (restoring a snapshot).

use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

/// The status document of a serving node.
fn status(state: &AppState) -> (bool, Value) {
    let projector = state.archive.projector();
    let applied = projector.applied();
    let progress = projector.progress();
    let lag = progress.log_end.map(|end| end.saturating_sub(applied));
    let max = state.config.ready_max_lag;
    let ready = lag.is_some_and(|l| l <= max);
    let status = match lag {
        None => "waiting for the log's end",
        Some(l) if l <= max => "ready",
        Some(_) => "catching up",
    };
    let body = json!({
        "node_id": state.config.node_id(),
        "status": status,
        "ready": ready,
        "applied": applied,
        "log_end": progress.log_end,
        "lag": lag,
        "ready_max_lag": max,
        "log_end_age_ms": progress.log_end_at.map(|t| t.elapsed().as_millis() as u64),
        "opened_at": progress.opened_at,
        "replayed": applied.saturating_sub(progress.opened_at),
        "snapshot": progress.restored.map(|r| json!({"generation": r.generation, "position": r.position})),
    });
    (ready, body)
}

fn answer(code: StatusCode, body: Value) -> Response {
    let mut resp = (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// GET /health: 200 while the process serves HTTP, whatever its projection's state.
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, status(&state).1)
}

/// GET /ready: 200 when the projection is within `ready_max_lag` events of the log's end.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let (ready, body) = status(&state);
    answer(if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body)
}

/// What a node serves before its projection is open (while it restores a snapshot):
/// `/health` 200 and `/ready` 503 with `status` = `phase`, and 503 with a reason and
/// `Retry-After` for everything else.
pub fn starting_router(node_id: String, phase: &'static str) -> Router {
    let body = json!({
        "node_id": node_id,
        "status": phase,
        "ready": false,
        "applied": null,
        "log_end": null,
        "lag": null,
        "snapshot": null,
    });
    let (b1, b2) = (body.clone(), body);
    Router::new()
        .route("/health", get(move || async move { answer(StatusCode::OK, b1) }))
        .route("/ready", get(move || async move { answer(StatusCode::SERVICE_UNAVAILABLE, b2) }))
        .fallback(move || async move {
            let mut resp = crate::ApiError::Unavailable(format!(
                "this node is starting ({phase}) and serves nothing else yet; ask another node, or again shortly"
            ))
            .into_response();
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            resp
        })
}
