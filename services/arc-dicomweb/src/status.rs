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
    let mut resp = (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// GET /health: 200 while the process serves HTTP, whatever its projection's state.
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, status(&state).1)
}

/// GET /ready: 200 when the projection is within `ready_max_lag` events of the log's end.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let (ready, body) = status(&state);
    answer(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        body,
    )
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

#[cfg(test)]
mod tests {
    use crate::AppState;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use std::sync::Arc;
    use tower::ServiceExt;

    fn state(max_lag: u64) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let projector = arc_projector::Projector::open(dir.path()).expect("projection");
        let config = arc_config::NodeConfig {
            ready_max_lag: max_lag,
            write_wait_ms: 0,
            node_id: Some("n1".into()),
            ..Default::default()
        };
        let archive = arc_archive::Archive::new(
            Arc::new(arc_eventlog::MemoryLog::new()),
            Arc::new(arc_objstore::MemoryStore::new()),
            projector,
            config.overwrite,
            std::time::Duration::from_millis(10),
        );
        (
            AppState {
                archive,
                config: Arc::new(config),
            },
            dir,
        )
    }

    async fn get(state: &AppState, uri: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        let resp = crate::router(state.clone())
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        let status = resp.status();
        let lag = resp
            .headers()
            .get(crate::LAG)
            .map(|v| v.to_str().expect("ascii").to_string());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            lag,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn ready_follows_the_lag_and_health_does_not() {
        let (state, _dir) = state(2);
        let p = state.archive.projector().clone();
        // The log's end not learned yet: alive, not ready.
        assert_eq!(get(&state, "/health").await.0, StatusCode::OK);
        let (code, _, body) = get(&state, "/ready").await;
        assert_eq!(
            (code, body["ready"].as_bool(), body["lag"].is_null()),
            (StatusCode::SERVICE_UNAVAILABLE, Some(false), true)
        );
        p.note_log_end(5);
        let (code, lag, body) = get(&state, "/ready").await;
        assert_eq!(
            (code, lag.as_deref()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("5"))
        );
        assert_eq!(
            (
                body["node_id"].as_str(),
                body["applied"].as_u64(),
                body["log_end"].as_u64()
            ),
            (Some("n1"), Some(0), Some(5))
        );
        // Three events applied (undecodable ones count: every node skips them alike).
        let records: Vec<arc_eventlog::Record> = (0..3)
            .map(|seq| arc_eventlog::Record {
                seq,
                data: bytes::Bytes::from_static(b"x"),
            })
            .collect();
        p.apply_batch(&records).expect("batch");
        let (code, lag, body) = get(&state, "/ready").await;
        assert_eq!(
            (
                code,
                lag.as_deref(),
                body["lag"].as_u64(),
                body["replayed"].as_u64()
            ),
            (StatusCode::OK, Some("2"), Some(2), Some(3))
        );
    }

    #[tokio::test]
    async fn min_sequence_as_a_query_parameter_waits_and_is_taken_out_of_the_query() {
        let (state, _dir) = state(10);
        let p = state.archive.projector().clone();
        p.apply_batch(&[arc_eventlog::Record {
            seq: 0,
            data: bytes::Bytes::from_static(b"x"),
        }])
        .expect("batch");
        // Reached: QIDO sees `limit` only (an unknown key would be a 400).
        let (code, _, _) = get(&state, "/aets/ARCSTREAM/rs/studies?limit=5&min-sequence=0").await;
        assert!(code.is_success(), "{code}");
        // Beyond the end of a log only this node writes: it can never come, 400 at once.
        let (code, _, body) = get(&state, "/aets/ARCSTREAM/rs/studies?min-sequence=7").await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        // In the log but not applied yet: waited for, then 503.
        let appended = state
            .archive
            .log()
            .append(vec![bytes::Bytes::from_static(b"x"); 8])
            .await
            .expect("append");
        assert_eq!(appended.last(), Some(&7));
        let (code, _, _) = get(&state, "/aets/ARCSTREAM/rs/studies?min-sequence=7").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            get(&state, "/aets/ARCSTREAM/rs/studies?min-sequence=x")
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            get(
                &state,
                "/aets/ARCSTREAM/rs/studies?min-sequence=0&min-sequence=0"
            )
            .await
            .0,
            StatusCode::BAD_REQUEST
        );
    }
}
