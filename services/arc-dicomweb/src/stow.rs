//! STOW-RS (PS3.18 10.5): `multipart/related; type="application/dicom"` (or
//! `type="application/dicom+json"` / `"application/dicom+xml"`, metadata with bulk data
//! parts) in, a Store Instances
//! Response out as DICOM JSON or, when asked, the Native DICOM Model — Referenced SOP
//! Sequence with Retrieve URLs and Warning Reasons, Failed SOP Sequence with Failure Reasons;
//! 200 all stored, 202 some failed or stored with warnings, 409 none stored.
//!
//! The body streams: each part is spooled (a temp file when large) and, for DICOM parts,
//! parsed and written to the object store as soon as it has arrived; events are appended once
//! the body is complete, so a request cut short or malformed stores nothing.

use crate::accept::{self, Structured};
use crate::{check_aet, stow_json, urls, ApiError, AppState, SEQUENCE};
use arc_archive::{
    spool_body, PartOutcome, PartResult, SpoolError, SpooledPart, StoreContext, CANNOT_UNDERSTAND,
};
use arc_dicom::parse_content_type;
use arc_model::{Actor, IndexAttrs, Source};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// Bytes of small parts a metadata-and-bulk-data request may keep in memory; past this,
/// parts go to temp files (they are all held until the body ends).
const JSON_MEMORY_BUDGET: u64 = 64 << 20;

/// Query parameters of STOW-RS that are not attribute coercions.
const NOT_ATTRIBUTES: &[&str] = &["accept", "charset"];

/// POST /studies
pub(crate) async fn stow(
    State(state): State<AppState>,
    Path(aet): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    handle(state, aet, None, uri, query, peer, headers, body).await
}

/// POST /studies/{study}
#[allow(clippy::too_many_arguments)]
pub(crate) async fn stow_study(
    State(state): State<AppState>,
    Path((aet, study)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    handle(state, aet, Some(study), uri, query, peer, headers, body).await
}

/// The form of the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Part 10 objects.
    Dicom,
    /// DICOM JSON or XML metadata with bulk data parts (PS3.18 10.5.1.2.2).
    JsonBulk,
}

/// `keyword=value` query parameters as coerced attributes (dcm4chee-arc-light's STOW-RS).
fn coercions(query: Option<&str>) -> Result<(IndexAttrs, Option<String>), ApiError> {
    let mut out = IndexAttrs::new();
    let mut accept = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "accept" {
            accept = Some(v.into_owned());
            continue;
        }
        if NOT_ATTRIBUTES.contains(&k.as_ref()) {
            continue;
        }
        let (tag, value) = arc_dicom::coercion_attr(&k, &v)
            .map_err(|e| ApiError::BadRequest(format!("query parameter {k}: {e}")))?;
        out.insert(tag, value);
    }
    Ok((out, accept))
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    state: AppState,
    aet: String,
    study: Option<String>,
    uri: axum::http::Uri,
    query: Option<String>,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    // the study addressed becomes the key (and Retrieve URL) of what is stored
    if let Some(problem) = study.as_deref().and_then(arc_model::uid_problem) {
        return Err(ApiError::BadRequest(format!(
            "the Study Instance UID {:?} of the request path {problem} (PS3.5 9.1)",
            study.as_deref().unwrap_or_default()
        )));
    }
    let (coerced, accept_param) = coercions(query.as_deref())?;
    let format = accept::structured(&headers, accept_param.as_deref(), true)?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        ApiError::UnsupportedMediaType("missing Content-Type; send multipart/related; type=\"application/dicom\"; boundary=…".into())
    })?;
    let mt = parse_content_type(ct)
        .map_err(|e| ApiError::BadRequest(format!("bad Content-Type {ct:?}: {e}")))?;
    if mt.essence() != "multipart/related" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {ct:?} is not supported; send multipart/related; type=\"application/dicom\" or type=\"application/dicom+json\""
        )));
    }
    let kind = match mt.param("type").map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        None | Some("application/dicom") => Kind::Dicom,
        Some("application/dicom+json") | Some("application/json") | Some("application/dicom+xml") => Kind::JsonBulk,
        Some(t) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "multipart/related of type {t:?} is not supported; send type=\"application/dicom\", \"application/dicom+json\" or \"application/dicom+xml\""
            )))
        }
    };
    let boundary = mt
        .param("boundary")
        .ok_or_else(|| ApiError::BadRequest("Content-Type has no boundary parameter".into()))?
        .to_string();
    let ctx = StoreContext {
        study_uid: study,
        source: Source::Stow,
        coerced,
    };
    let limit = state.config.max_request_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the request body exceeds max_request_bytes ({limit} bytes); nothing was stored"
        ))
    };
    // A declared length over the limit is refused before the body is read, so a client
    // that sent `Expect: 100-continue` gets 413 instead of "100 Continue" (RFC 9110 10.1.1).
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // A client that stops sending the body holds a connection, a spool file and a task;
    // each pause is bounded like the wait for headers (slowloris).
    let idle = std::time::Duration::from_millis(state.config.header_read_timeout_ms.max(1));

    // Three stages run at once: the body is read here, split and spooled on a blocking
    // thread, and each finished part is prepared (parsed, blobs written) as it arrives.
    let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let (part_tx, mut part_rx) = tokio::sync::mpsc::channel::<SpooledPart>(1);
    let dir = state.archive.spool_dir().to_path_buf();
    let budget = (kind == Kind::JsonBulk).then_some(JSON_MEMORY_BUDGET);
    let spool =
        tokio::task::spawn_blocking(move || spool_body(&boundary, &dir, chunk_rx, part_tx, budget));
    let feed = async move {
        let mut stream = body.into_data_stream();
        let mut total = 0u64;
        loop {
            let next = tokio::time::timeout(idle, stream.next()).await.map_err(|_| {
                ApiError::RequestTimeout(format!(
                    "no request body byte arrived for {} ms after {total} bytes; nothing was stored",
                    idle.as_millis()
                ))
            })?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| {
                ApiError::BadRequest(format!("the request body could not be read: {e}"))
            })?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(too_large());
            }
            if chunk_tx.send(chunk).await.is_err() {
                break; // the spooler stopped; its error is the answer
            }
        }
        Ok(())
    };
    let archive = state.archive.clone();
    let c = ctx.clone();
    let consume = async move {
        // Parts are prepared concurrently (parsing on blocking threads, blob writes and their
        // syncs overlapping), at most PREPARE_AHEAD at once; outcomes keep the part order.
        let permits = Arc::new(tokio::sync::Semaphore::new(PREPARE_AHEAD));
        let mut tasks = Vec::new();
        let mut held: Vec<SpooledPart> = Vec::new();
        while let Some(part) = part_rx.recv().await {
            match kind {
                Kind::JsonBulk => held.push(part),
                Kind::Dicom => {
                    let permit = permits
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("semaphore never closed");
                    let (archive, c) = (archive.clone(), c.clone());
                    tasks.push(tokio::spawn(async move {
                        let _permit = permit;
                        match dicom_part_error(&part) {
                            Some(failed) => Ok(Err(failed)),
                            None => archive.prepare(part, &c).await,
                        }
                    }));
                }
            }
        }
        let mut outcomes: Vec<PartOutcome> = Vec::with_capacity(tasks.len());
        for task in tasks {
            outcomes.push(
                task.await
                    .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))??,
            );
        }
        Ok::<_, ApiError>((outcomes, held))
    };
    let (fed, consumed) = tokio::join!(feed, consume);
    let spooled = spool
        .await
        .map_err(|e| ApiError::Internal(format!("spool task failed: {e}")))?;
    fed?;
    match spooled {
        Ok(()) => {}
        Err(SpoolError::Multipart(e)) => {
            return Err(ApiError::BadRequest(format!(
                "cannot read the multipart body: {e}"
            )))
        }
        Err(e @ SpoolError::Io(..)) => return Err(ApiError::Unavailable(e.to_string())),
    }
    let (mut outcomes, held) = consumed?;
    if kind == Kind::JsonBulk {
        outcomes = stow_json::store(&state, held, &ctx).await?;
    }
    if outcomes.is_empty() {
        return Err(ApiError::BadRequest("the request holds no parts".into()));
    }
    let actor = Actor {
        user: None,
        aet: Some(aet),
        address: Some(peer.ip().to_string()),
    };
    let report = state.archive.commit(outcomes, actor).await?;
    Ok(answer(report, &urls::rs_base(&headers, &uri), format))
}

/// Parts of one request prepared at the same time.
const PREPARE_AHEAD: usize = 8;

/// A part of a Part 10 request that is not `application/dicom` fails alone (PS3.18 10.5.3).
fn dicom_part_error(part: &SpooledPart) -> Option<PartResult> {
    let ct = part.header("content-type")?;
    let essence = parse_content_type(ct).ok()?.essence();
    (essence != "application/dicom").then(|| PartResult::Failed {
        sop_class_uid: None,
        sop_instance_uid: None,
        status: CANNOT_UNDERSTAND,
        reason: format!("media type {essence} is not application/dicom"),
    })
}

/// The Store Instances Response (PS3.18 10.5.3) and its status and Warning headers.
fn answer(report: arc_archive::StoreReport, base: &str, format: Structured) -> Response {
    let mut referenced = Vec::new();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    let mut studies = std::collections::BTreeSet::new();
    for r in report.results {
        match r {
            PartResult::Stored {
                study_uid,
                series_uid,
                sop_class_uid,
                sop_instance_uid,
                warning,
                ..
            } => {
                let url = urls::retrieve_url(
                    base,
                    &study_uid,
                    Some(&series_uid),
                    Some(&sop_instance_uid),
                );
                let mut item = Map::new();
                item.insert(
                    "00081150".into(),
                    json!({"vr": "UI", "Value": [sop_class_uid]}),
                );
                item.insert(
                    "00081155".into(),
                    json!({"vr": "UI", "Value": [&sop_instance_uid]}),
                );
                item.insert("00081190".into(), json!({"vr": "UR", "Value": [url]}));
                if let Some(w) = warning {
                    item.insert("00081196".into(), json!({"vr": "US", "Value": [w]}));
                    warnings.push(format!(
                        "{sop_instance_uid}: stored with coerced attributes (warning {w:04X})"
                    ));
                }
                studies.insert(study_uid);
                referenced.push(Value::Object(item));
            }
            PartResult::Failed {
                sop_class_uid,
                sop_instance_uid,
                status,
                reason,
            } => {
                warnings.push(format!(
                    "{}: {reason}",
                    sop_instance_uid.as_deref().unwrap_or("unreadable part")
                ));
                failed.push(failed_item(sop_class_uid, sop_instance_uid, status));
            }
        }
    }
    let with_warnings = referenced.iter().any(|r| r.get("00081196").is_some());
    let mut doc = Map::new();
    if studies.len() == 1 {
        let s = studies.iter().next().expect("one study");
        doc.insert(
            "00081190".into(),
            json!({"vr": "UR", "Value": [urls::retrieve_url(base, s, None, None)]}),
        );
    }
    if !failed.is_empty() {
        doc.insert("00081198".into(), json!({"vr": "SQ", "Value": failed}));
    }
    if !referenced.is_empty() {
        doc.insert("00081199".into(), json!({"vr": "SQ", "Value": referenced}));
    }
    // PS3.18 Table 10.5.3-1: 202 when some instances failed or were stored with warnings.
    let status = match (referenced.is_empty(), failed.is_empty() && !with_warnings) {
        (false, true) => StatusCode::OK,
        (false, false) => StatusCode::ACCEPTED,
        (true, _) => StatusCode::CONFLICT,
    };
    let doc = Value::Object(doc);
    let mut resp = match format {
        Structured::Json => (
            status,
            [(header::CONTENT_TYPE, "application/dicom+json")],
            doc.to_string(),
        )
            .into_response(),
        Structured::Xml => (
            status,
            [(header::CONTENT_TYPE, "application/dicom+xml")],
            arc_dicom::json_to_native_xml(&doc),
        )
            .into_response(),
    };
    if let Some(seq) = report.last_seq {
        resp.headers_mut().insert(SEQUENCE, seq.into());
    }
    for w in warnings.iter().take(20) {
        crate::add_warning(&mut resp, w);
    }
    resp
}

fn failed_item(class: Option<String>, instance: Option<String>, status: u16) -> Value {
    let mut item = Map::new();
    item.insert("00081150".into(), uid(class));
    item.insert("00081155".into(), uid(instance));
    item.insert("00081197".into(), json!({"vr": "US", "Value": [status]}));
    Value::Object(item)
}

fn uid(v: Option<String>) -> Value {
    match v {
        Some(u) => json!({"vr": "UI", "Value": [u]}),
        None => json!({"vr": "UI"}),
    }
}
