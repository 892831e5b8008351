//! The node's OpenAPI description: `schemas/openapi.json`, built into the binary and served
//! at `GET /openapi.json`. The tests below hold it to the router: every routed path and
//! method is described, and every described one is routed.

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI 3.1 document of every endpoint of the node.
pub const OPENAPI_JSON: &str = include_str!("../../../schemas/openapi.json");

/// GET /openapi.json
pub(crate) async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{routes, AppState};
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;
    use tower::ServiceExt;

    const METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn doc() -> Value {
        serde_json::from_str(OPENAPI_JSON).expect("schemas/openapi.json is JSON")
    }

    fn server_prefixes(servers: &Value) -> Vec<String> {
        servers
            .as_array()
            .expect("servers is a list")
            .iter()
            .map(|s| {
                s["url"]
                    .as_str()
                    .expect("server url")
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect()
    }

    /// Every described full path (server prefix + path) with its methods, upper case.
    fn described() -> BTreeMap<String, BTreeSet<String>> {
        let doc = doc();
        let top = server_prefixes(&doc["servers"]);
        let mut out = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let prefixes = match item.get("servers") {
                Some(s) => server_prefixes(s),
                None => top.clone(),
            };
            let methods: BTreeSet<String> = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
            for p in prefixes {
                out.insert(format!("{p}{path}"), methods.clone());
            }
        }
        out
    }

    /// axum's `{*rest}` is OpenAPI's `{rest}` (a value that may hold `/`).
    fn openapi_form(path: &str) -> String {
        path.replace("{*", "{")
    }

    fn state() -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let projector = arc_projector::Projector::open(dir.path()).expect("projection");
        let config = arc_config::NodeConfig::default();
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

    /// The methods the router serves on `path`: a method no route has answers 405 with
    /// an `Allow` header (axum's method router), before any handler runs.
    async fn routed_methods(app: &axum::Router, path: &str) -> BTreeSet<String> {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let req = Request::builder()
            .method(Method::from_bytes(b"PROBE").expect("method"))
            .uri(concrete)
            .body(Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("answer");
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{path} is not routed"
        );
        let allow = resp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        allow
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty() && m != "HEAD") // axum answers HEAD wherever GET is served
            .collect()
    }

    #[tokio::test]
    async fn every_route_is_described_and_every_description_routed() {
        let routes = routes();
        let paths: Vec<String> = routes.paths().to_vec();
        let (state, _dir) = state();
        let app = routes.into_router().with_state(state);
        let mut routed = BTreeMap::new();
        for p in &paths {
            routed.insert(openapi_form(p), routed_methods(&app, p).await);
        }
        let described = described();
        let undocumented: Vec<_> = routed
            .keys()
            .filter(|p| !described.contains_key(*p))
            .collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from schemas/openapi.json: {undocumented:?}"
        );
        let unrouted: Vec<_> = described
            .keys()
            .filter(|p| !routed.contains_key(*p))
            .collect();
        assert!(
            unrouted.is_empty(),
            "described in schemas/openapi.json but not routed: {unrouted:?}"
        );
        for (path, methods) in &routed {
            assert_eq!(
                methods, &described[path],
                "methods of {path}: routed vs described"
            );
        }
    }

    #[test]
    fn document_is_complete() {
        let doc = doc();
        assert!(doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")));
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let text = OPENAPI_JSON;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in METHODS.iter().filter_map(|m| item.get(*m)) {
                let responses = m["responses"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{path}: no responses"));
                assert!(
                    responses.keys().any(|c| c.starts_with('2')),
                    "{path}: no success status"
                );
                assert!(m["operationId"].is_string(), "{path}: no operationId");
            }
        }
        // every local reference resolves
        for (i, _) in text.match_indices("\"$ref\": \"#/") {
            let rest = &text[i + 9..];
            let target = &rest[..rest.find('"').expect("closing quote")];
            let pointer = target.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "unresolved {target}");
        }
    }

    #[tokio::test]
    async fn the_node_serves_the_document() {
        let (state, _dir) = state();
        let app = crate::router(state);
        let req = Request::get("/openapi.json")
            .body(Body::empty())
            .expect("request");
        let resp = app.oneshot(req).await.expect("answer");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
    }
}
