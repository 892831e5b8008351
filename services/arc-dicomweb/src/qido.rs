//! QIDO-RS (PS3.18 10.6): search at each level and the nested forms, `/count` variants,
//! DICOM JSON answers with Retrieve URL (0008,1190), paging with a `Warning: 299` header
//! when the answer is cut (as dcm4chee-arc-light does).

use crate::{accept, check_aet, urls, ApiError, AppState};
use arc_index::{parse_qido, select_return, IndexRead};
use arc_model::{AttrValue, Level};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;

struct Scope {
    level: Level,
    study: Option<String>,
    series: Option<String>,
}

/// One handler per route: the level and whether only the count is asked; the path gives
/// the AE title and the study and series the search is scoped to.
macro_rules! handler {
    ($name:ident, $level:expr, $count:expr) => {
        pub(crate) async fn $name(
            State(state): State<AppState>,
            Path(path): Path<HashMap<String, String>>,
            OriginalUri(uri): OriginalUri,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
        ) -> Result<Response, ApiError> {
            search(state, path, $level, $count, uri, query, headers).await
        }
    };
}

handler!(studies, Level::Study, false);
handler!(studies_count, Level::Study, true);
handler!(series, Level::Series, false);
handler!(series_count, Level::Series, true);
handler!(instances, Level::Instance, false);
handler!(instances_count, Level::Instance, true);
handler!(study_series, Level::Series, false);
handler!(study_series_count, Level::Series, true);
handler!(study_instances, Level::Instance, false);
handler!(study_instances_count, Level::Instance, true);
handler!(series_instances, Level::Instance, false);
handler!(series_instances_count, Level::Instance, true);

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect()
}

async fn search(
    state: AppState,
    mut path: HashMap<String, String>,
    level: Level,
    count_only: bool,
    uri: axum::http::Uri,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, path.get("aet").map(String::as_str).unwrap_or_default())?;
    let scope = Scope { level, study: path.remove("study"), series: path.remove("series") };
    let mut params = pairs(query.as_deref());
    let accept_param = params.iter().find(|(k, _)| k == "accept").map(|(_, v)| v.clone());
    accept::json(&headers, accept_param.as_deref())?;
    params.retain(|(k, _)| k != "accept");
    let mut q = parse_qido(scope.level, &params).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    q.study_uid = scope.study;
    q.series_uid = scope.series;

    let index = state.archive.projector().clone();
    if count_only {
        let n = tokio::task::spawn_blocking(move || index.index().count(&q))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(([(header::CONTENT_TYPE, "application/json")], serde_json::json!({ "count": n }).to_string()).into_response());
    }

    let cfg = &state.config;
    let asked = q.limit;
    let limit = asked.unwrap_or(cfg.qido_default_limit).min(cfg.qido_max_limit);
    q.limit = Some(limit);
    let level = q.level;
    let (page, q) = tokio::task::spawn_blocking(move || index.index().search(&q).map(|p| (p, q)))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;

    let base = urls::rs_base(&headers, &uri);
    let results: Vec<Value> = page
        .hits
        .iter()
        .map(|attrs| {
            let mut selected = select_return(level, attrs, &q);
            if let Some(url) = retrieve_url(&base, level, attrs) {
                selected.insert("00081190".into(), AttrValue::text("UR", vec![url]));
            }
            arc_dicom::attrs_to_json(&selected)
        })
        .collect();

    let offset = q.offset;
    let remaining = page.total.saturating_sub(offset + results.len() as u64);
    let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, "application/dicom+json")], Value::Array(results).to_string()).into_response();
    if remaining > 0 && asked.is_none_or(|a| a > limit) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("arcstream");
        let warning = format!("299 {host} \"There are {remaining} additional results that can be requested\"");
        if let Ok(v) = warning.parse() {
            resp.headers_mut().insert(header::WARNING, v);
        }
    }
    Ok(resp)
}

fn first<'a>(attrs: &'a arc_model::IndexAttrs, tag: &str) -> Option<&'a str> {
    attrs.get(tag).and_then(AttrValue::first)
}

fn retrieve_url(base: &str, level: Level, attrs: &arc_model::IndexAttrs) -> Option<String> {
    let study = first(attrs, "0020000D")?;
    match level {
        Level::Patient => None,
        Level::Study => Some(urls::retrieve_url(base, study, None, None)),
        Level::Series => Some(urls::retrieve_url(base, study, first(attrs, "0020000E"), None)),
        Level::Instance => Some(urls::retrieve_url(base, study, first(attrs, "0020000E"), first(attrs, "00080018"))),
    }
}
