//! QIDO-RS (PS3.18 10.6): search at each level (patients as dcm4chee-arc-light offers them,
//! studies, series, instances) and the nested forms, `/count` of each and `/studies/size`,
//! answers in DICOM JSON, XML or CSV ([`format`]) with Retrieve URL (0008,1190), paging with a
//! default and a maximum `limit` and a `Warning: 299` header when the answer is cut (as
//! dcm4chee-arc-light does). Matching itself is arc-index's.

mod format;

use crate::{check_aet, urls, ApiError, AppState};
use arc_index::{parse_qido, return_tags, select_return, IndexRead, QidoQuery};
use arc_model::{AttrValue, IndexAttrs, Level};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// What a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// The matches.
    Search,
    /// `{"count":N}`.
    Count,
    /// `{"size":N}`: bytes stored for the matches.
    Size,
}

/// One handler per route: the level and the answer; the path gives the AE title and the
/// study and series the search is scoped to.
macro_rules! handler {
    ($name:ident, $level:expr, $answer:expr) => {
        pub(crate) async fn $name(
            State(state): State<AppState>,
            Path(path): Path<HashMap<String, String>>,
            OriginalUri(uri): OriginalUri,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
        ) -> Result<Response, ApiError> {
            search(state, path, $level, $answer, uri, query, headers).await
        }
    };
}

handler!(patients, Level::Patient, Answer::Search);
handler!(patients_count, Level::Patient, Answer::Count);
handler!(studies, Level::Study, Answer::Search);
handler!(studies_count, Level::Study, Answer::Count);
handler!(studies_size, Level::Study, Answer::Size);
handler!(series, Level::Series, Answer::Search);
handler!(series_count, Level::Series, Answer::Count);
handler!(instances, Level::Instance, Answer::Search);
handler!(instances_count, Level::Instance, Answer::Count);
handler!(study_series, Level::Series, Answer::Search);
handler!(study_series_count, Level::Series, Answer::Count);
handler!(study_instances, Level::Instance, Answer::Search);
handler!(study_instances_count, Level::Instance, Answer::Count);
handler!(series_instances, Level::Instance, Answer::Search);
handler!(series_instances_count, Level::Instance, Answer::Count);

/// The query's parameters, percent-decoded. A `%` not followed by two hex digits, or bytes
/// that are not UTF-8 once decoded, are a 400 naming the parameter, not text that silently
/// matches nothing (PS3.18 8.3.4.1: values are UTF-8, percent-encoded).
fn pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let query = query.unwrap_or("");
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let name = part.split('=').next().unwrap_or(part);
        let Some(raw) = percent_decoded(part) else {
            return Err(ApiError::BadRequest(format!(
                "{name}: a % in a query must start a percent-encoded byte (%XX)"
            )));
        };
        if std::str::from_utf8(&raw).is_err() {
            return Err(ApiError::BadRequest(format!(
                "{name}: not UTF-8 once percent-decoded (PS3.18 8.3.4.1)"
            )));
        }
    }
    Ok(form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect())
}

/// `text` with `+` as a space and `%XX` as its byte; `None` for a `%` without two hex digits.
fn percent_decoded(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Adds a `Warning: 299` header (PS3.18 8.3.5.1; the form dcm4chee-arc-light sends).
fn warn(resp: &mut Response, host: &str, text: &str) {
    let text = text.replace('"', "'");
    if let Ok(v) = HeaderValue::from_str(&format!("299 {host} \"{text}\"")) {
        resp.headers_mut().append(header::WARNING, v);
    }
}

fn json_answer(name: &str, n: u64) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ name: n }).to_string(),
    )
        .into_response()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> arc_index::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| match e {
            arc_index::IndexError::Query(q) => ApiError::BadRequest(q.to_string()),
            other => ApiError::Internal(other.to_string()),
        })
}

async fn search(
    state: AppState,
    mut path: HashMap<String, String>,
    level: Level,
    answer: Answer,
    uri: axum::http::Uri,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(
        &state,
        path.get("aet").map(String::as_str).unwrap_or_default(),
    )?;
    let params = pairs(query.as_deref())?;
    let accept_param = params
        .iter()
        .find(|(k, _)| k == "accept")
        .map(|(_, v)| v.clone());
    let format = match answer {
        Answer::Search => format::negotiate(&headers, accept_param.as_deref())?,
        // counts and sizes are JSON whatever the search would be
        Answer::Count | Answer::Size => format::Format::Json,
    };
    let mut q = parse_qido(level, &params).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    q.study_uid = path.remove("study");
    q.series_uid = path.remove("series");
    // A scope that is not a UID is a bad request, as the same value as a matching key is
    // (StudyInstanceUID=abc), not a search that finds nothing.
    for (name, uid) in [("Study", &q.study_uid), ("Series", &q.series_uid)] {
        if let Some(problem) = uid.as_deref().and_then(arc_model::uid_problem) {
            return Err(ApiError::BadRequest(format!(
                "the {name} Instance UID {:?} of the request path {problem} (PS3.5 9.1)",
                uid.as_deref().unwrap_or_default()
            )));
        }
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("arcstream")
        .to_string();

    let index = state.archive.projector().clone();
    match answer {
        Answer::Count => {
            let n = blocking(move || index.index().count(&q)).await?;
            return Ok(json_answer("count", n));
        }
        Answer::Size => {
            let n = blocking(move || index.index().size(&q)).await?;
            return Ok(json_answer("size", n));
        }
        Answer::Search => {}
    }

    let cfg = &state.config;
    let asked = q.limit;
    let limit = asked
        .unwrap_or(cfg.qido_default_limit)
        .min(cfg.qido_max_limit);
    q.limit = Some(limit);
    let (page, q) = blocking(move || index.index().search(&q).map(|p| (p, q))).await?;

    let base = urls::rs_base(&headers, &uri);
    let results: Vec<IndexAttrs> = page
        .hits
        .iter()
        .map(|attrs| {
            let mut selected = select_return(level, attrs, &q);
            if let Some(url) = retrieve_url(&base, level, attrs) {
                selected.insert("00081190".into(), AttrValue::text("UR", vec![url]));
            }
            selected
        })
        .collect();
    let columns = match format {
        format::Format::Csv(_) => format::csv_columns(&csv_wanted(level, &q), &results),
        _ => Vec::new(),
    };
    let body = format::render(format, &results, &columns);
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, body.content_type)],
        body.bytes,
    )
        .into_response();

    let remaining = page.total.saturating_sub(q.offset + results.len() as u64);
    if remaining > 0 && asked.is_none_or(|a| a > limit) {
        warn(
            &mut resp,
            &host,
            &format!("There are {remaining} additional results that can be requested"),
        );
    }
    for w in &q.warnings {
        warn(&mut resp, &host, w);
    }
    Ok(resp)
}

/// The columns a CSV answer has even when nothing matched: the return keys and, above the
/// patient level, Retrieve URL.
fn csv_wanted(level: Level, q: &QidoQuery) -> Vec<&str> {
    let mut wanted = if q.include_all {
        Vec::new()
    } else {
        return_tags(level, q)
    };
    if level != Level::Patient {
        wanted.push("00081190");
    }
    wanted
}

fn first<'a>(attrs: &'a IndexAttrs, tag: &str) -> Option<&'a str> {
    attrs.get(tag).and_then(AttrValue::first)
}

fn retrieve_url(base: &str, level: Level, attrs: &IndexAttrs) -> Option<String> {
    let study = first(attrs, "0020000D")?;
    match level {
        Level::Patient => None,
        Level::Study => Some(urls::retrieve_url(base, study, None, None)),
        Level::Series => Some(urls::retrieve_url(
            base,
            study,
            first(attrs, "0020000E"),
            None,
        )),
        Level::Instance => Some(urls::retrieve_url(
            base,
            study,
            first(attrs, "0020000E"),
            first(attrs, "00080018"),
        )),
    }
}
