//! arc-dicomweb owns the HTTP edge: STOW-RS, QIDO-RS, WADO-RS and WADO-URI under
//! `/aets/{AET}/rs` and `/aets/{AET}/wado` (also under the `/dcm4chee-arc` prefix that
//! dcm4chee-arc-light users know), plus `/health` and `/openapi.json`. Handlers are thin: they
//! negotiate media types and map results to PS3.18 status codes; the archive crate does the
//! work. Every route is registered through [`Routes`] and described in
//! `schemas/openapi.json`; a test checks that the two agree.

mod accept;
mod conditional;
mod error;
mod openapi;
mod pixel_params;
mod qido;
mod routes;
mod status;
mod stow;
mod stow_json;
mod urls;
mod wado;
mod wado_bulk;
mod wado_frames;
mod wado_meta;
mod wado_render;
mod wado_uri;
mod zip;

pub use error::ApiError;
pub use openapi::OPENAPI_JSON;
pub use routes::Routes;
pub use status::starting_router;

use arc_archive::Archive;
use arc_config::NodeConfig;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};

/// Header a client sends to read at least up to a log position it has seen (read-your-writes
/// across nodes), and that write answers carry.
pub const MIN_SEQUENCE: &str = "arc-min-sequence";
/// Header of write answers: the log position of the request's last event.
pub const SEQUENCE: &str = "arc-sequence";
/// Query parameter doing what [`MIN_SEQUENCE`] does, for clients that cannot set headers.
pub const MIN_SEQUENCE_PARAM: &str = "min-sequence";
/// Header of every answer: events in the log this node had not applied when it answered.
pub const LAG: &str = "arc-lag";

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The archive.
    pub archive: Archive,
    /// The node's configuration.
    pub config: Arc<NodeConfig>,
}

/// Builds the node's HTTP router.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_request_bytes.min(usize::MAX as u64) as usize;
    routes()
        .into_router()
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::NotFound(format!("no resource at {} on this node", uri.path()))
        })
        // axum's own 405 has no body; say what went wrong (the Allow header lists the rest)
        .method_not_allowed_fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                ApiError::MethodNotAllowed(format!(
                    "{method} is not served at {}; the Allow header lists the methods that are",
                    uri.path()
                ))
            },
        )
        .layer(middleware::from_fn(head_as_get))
        .layer(middleware::from_fn_with_state(state.clone(), min_sequence))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        // PS3.18 8.9: browsers' viewers call from other origins; errors carry CORS too
        // because the layer wraps every response.
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(Any)
                .expose_headers([
                    HeaderName::from_static(SEQUENCE),
                    HeaderName::from_static(LAG),
                    axum::http::header::WARNING,
                    axum::http::header::ETAG,
                    axum::http::header::LAST_MODIFIED,
                    axum::http::header::CONTENT_LOCATION,
                ]),
        )
        .with_state(state)
}

/// Every route of the node (without state or middleware); `schemas/openapi.json` describes
/// each of them.
pub fn routes() -> Routes {
    let aet_routes = Routes::new()
        .nest("/rs", rs_routes())
        .route("/wado", get(wado_uri::wado));
    Routes::new()
        .nest("/aets/{aet}", aet_routes.clone())
        .nest("/dcm4chee-arc/aets/{aet}", aet_routes)
        .route("/health", get(status::health))
        .route("/ready", get(status::ready))
        .route("/openapi.json", get(openapi::serve))
}

fn rs_routes() -> Routes {
    Routes::new()
        .route("/patients", get(qido::patients))
        .route("/patients/count", get(qido::patients_count))
        .route("/studies", get(qido::studies).post(stow::stow))
        .route("/studies/count", get(qido::studies_count))
        .route("/studies/size", get(qido::studies_size))
        .route("/series", get(qido::series))
        .route("/series/count", get(qido::series_count))
        .route("/instances", get(qido::instances))
        .route("/instances/count", get(qido::instances_count))
        .route("/studies/{study}", get(wado::study).post(stow::stow_study))
        .route("/studies/{study}/metadata", get(wado_meta::study_metadata))
        .route("/studies/{study}/bulkdata", get(wado_bulk::study_bulkdata))
        .route("/studies/{study}/series", get(qido::study_series))
        .route(
            "/studies/{study}/series/count",
            get(qido::study_series_count),
        )
        .route("/studies/{study}/instances", get(qido::study_instances))
        .route(
            "/studies/{study}/instances/count",
            get(qido::study_instances_count),
        )
        .route("/studies/{study}/series/{series}", get(wado::series))
        .route(
            "/studies/{study}/series/{series}/metadata",
            get(wado_meta::series_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/bulkdata",
            get(wado_bulk::series_bulkdata),
        )
        .route(
            "/studies/{study}/series/{series}/instances",
            get(qido::series_instances),
        )
        .route(
            "/studies/{study}/series/{series}/instances/count",
            get(qido::series_instances_count),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}",
            get(wado::instance),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/metadata",
            get(wado_meta::instance_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/bulkdata",
            get(wado_bulk::instance_bulkdata),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/bulkdata/{*path}",
            get(wado_bulk::bulkdata),
        )
        .route(
            "/studies/{study}/rendered",
            get(wado_render::study_rendered),
        )
        .route(
            "/studies/{study}/thumbnail",
            get(wado_render::study_thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/rendered",
            get(wado_render::series_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/thumbnail",
            get(wado_render::series_thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/rendered",
            get(wado_render::instance_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/thumbnail",
            get(wado_render::instance_thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
            get(wado_frames::frames),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered",
            get(wado_render::frames_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/thumbnail",
            get(wado_render::frames_thumbnail),
        )
}

/// Checks the AE title of the path (404 for an unknown one, as dcm4chee answers).
pub(crate) fn check_aet(state: &AppState, aet: &str) -> Result<(), ApiError> {
    if aet == state.config.aet {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "no web application for AE title {aet}; this node serves {}",
            state.config.aet
        )))
    }
}

/// `Arc-Min-Sequence: N` (or `?min-sequence=N`, which is taken out of the query before the
/// handler sees it): wait (bounded) until this node has applied event N. Every answer
/// carries `Arc-Lag`: events in the log this node had not applied yet.
async fn min_sequence(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let from_query = match take_query_param(&mut req, MIN_SEQUENCE_PARAM) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let wanted = from_query.or_else(|| {
        req.headers()
            .get(MIN_SEQUENCE)
            .map(|v| v.to_str().unwrap_or("x").to_string())
    });
    if let Some(value) = wanted {
        let Some(seq) = value.trim().parse::<u64>().ok() else {
            return ApiError::BadRequest(format!(
                "{MIN_SEQUENCE} and {MIN_SEQUENCE_PARAM} must be a log position (a whole number)"
            ))
            .into_response();
        };
        // On a log only this node writes (file, memory), every position a client was
        // answered is at most its end: one beyond it can never come, so waiting is no use.
        if !state.config.shared_log() && seq > state.archive.projector().applied() {
            if let Ok(end) = state.archive.log().end().await {
                if seq > end {
                    return ApiError::BadRequest(format!(
                        "log position {seq} is beyond the end of this node's log ({end}); \
                         {MIN_SEQUENCE} takes an Arc-Sequence this archive answered"
                    ))
                    .into_response();
                }
            }
        }
        let wait = Duration::from_millis(state.config.write_wait_ms.max(1000));
        if !state.archive.projector().wait_applied(seq, wait).await {
            let mut resp = ApiError::Unavailable(format!(
                "this node has applied the log up to {} and did not reach {seq} in time",
                state.archive.projector().applied()
            ))
            .into_response();
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from_static("1"),
            );
            add_lag(&state, &mut resp);
            return resp;
        }
    }
    let mut resp = next.run(req).await;
    add_lag(&state, &mut resp);
    resp
}

/// HEAD runs the GET handler as GET, so that its answer reaches axum's outermost route
/// with the body it would have: an exact length becomes Content-Length, a streamed body
/// (multipart retrieve, ZIP, bulk data) gets none, as its GET is chunked. Left to axum, the
/// inner route empties the body first and the outer one then claims `content-length: 0`,
/// which a HEAD answer must not say when the GET sends more (RFC 9110 9.3.2).
async fn head_as_get(mut req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::HEAD {
        *req.method_mut() = axum::http::Method::GET;
    }
    next.run(req).await
}

fn add_lag(state: &AppState, resp: &mut Response) {
    if let Some(lag) = state.archive.projector().lag() {
        resp.headers_mut().insert(LAG, HeaderValue::from(lag));
    }
}

/// Removes `name=value` from the request's query (and from the original URI that handlers
/// build URLs from), returning the value; `Err` is a 400 answer for a repeated parameter.
fn take_query_param(req: &mut Request, name: &str) -> Result<Option<String>, Box<Response>> {
    let Some(query) = req.uri().query().map(str::to_string) else {
        return Ok(None);
    };
    if !query.split('&').any(|p| p.split('=').next() == Some(name)) {
        return Ok(None);
    }
    let mut found = Vec::new();
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| match p.split_once('=') {
            Some((k, v)) if k == name => {
                found.push(v.to_string());
                false
            }
            None if *p == name => {
                found.push(String::new());
                false
            }
            _ => true,
        })
        .collect();
    if found.len() > 1 {
        return Err(Box::new(
            ApiError::BadRequest(format!("{name} is given more than once")).into_response(),
        ));
    }
    let strip = |uri: &axum::http::Uri| -> axum::http::Uri {
        let pq = if rest.is_empty() {
            uri.path().to_string()
        } else {
            format!("{}?{}", uri.path(), rest.join("&"))
        };
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = pq.parse().ok();
        axum::http::Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
    };
    let new_uri = strip(req.uri());
    if let Some(original) = req.extensions_mut().get_mut::<axum::extract::OriginalUri>() {
        original.0 = strip(&original.0);
    }
    *req.uri_mut() = new_uri;
    Ok(found.pop())
}

/// Adds a `Warning: 299 arcstream "…"` header (RFC 7234 5.5; PS3.18 8.4.3); the text loses
/// quotes and control characters, which a warn-text cannot hold.
pub(crate) fn add_warning(resp: &mut Response, text: &str) {
    let text: String = text
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() || !c.is_ascii() {
                '\''
            } else {
                c
            }
        })
        .collect();
    if let Ok(v) = format!("299 arcstream \"{text}\"").parse() {
        resp.headers_mut().append(axum::http::header::WARNING, v);
    }
}
