//! STOW-RS (PS3.18 10.5): `multipart/related; type="application/dicom"` in, a DICOM JSON
//! Store Instances Response out — Referenced SOP Sequence with Retrieve URLs, Failed SOP
//! Sequence with Failure Reasons; 200 all stored, 202 some failed, 409 none stored.

use crate::{check_aet, urls, ApiError, AppState, SEQUENCE};
use arc_archive::{PartResult, StoreRequest};
use arc_dicom::{parse_content_type, split_multipart};
use arc_model::{Actor, Source};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// POST /studies
pub(crate) async fn stow(
    State(state): State<AppState>,
    Path(aet): Path<String>,
    OriginalUri(uri): OriginalUri,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    handle(state, aet, None, uri, peer, headers, body).await
}

/// POST /studies/{study}
pub(crate) async fn stow_study(
    State(state): State<AppState>,
    Path((aet, study)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    handle(state, aet, Some(study), uri, peer, headers, body).await
}

async fn handle(
    state: AppState,
    aet: String,
    study: Option<String>,
    uri: axum::http::Uri,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::UnsupportedMediaType("missing Content-Type; send multipart/related; type=\"application/dicom\"; boundary=…".into()))?;
    let mt = parse_content_type(ct).map_err(|e| ApiError::BadRequest(format!("bad Content-Type {ct:?}: {e}")))?;
    if mt.essence() != "multipart/related" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {ct:?} is not supported; send multipart/related; type=\"application/dicom\""
        )));
    }
    let param = |name: &str| mt.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    if let Some(t) = param("type") {
        if !t.eq_ignore_ascii_case("application/dicom") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "multipart/related of type {t:?} is not supported yet; send type=\"application/dicom\""
            )));
        }
    }
    let boundary = param("boundary").ok_or_else(|| ApiError::BadRequest("Content-Type has no boundary parameter".into()))?;
    let parts = split_multipart(&body, &boundary).map_err(|e| ApiError::BadRequest(format!("cannot read the multipart body: {e}")))?;
    if parts.is_empty() {
        return Err(ApiError::BadRequest("the request holds no parts".into()));
    }
    // Parts of another type than application/dicom fail one by one (PS3.18 10.5.3.1).
    let mut bodies = Vec::with_capacity(parts.len());
    let mut wrong_type = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        let pct = p.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.clone());
        match pct.as_deref().map(parse_content_type) {
            Some(Ok(m)) if m.essence() != "application/dicom" => wrong_type.push((i, m.essence().to_string())),
            _ => bodies.push(p.body),
        }
    }
    let actor = Actor { user: None, aet: Some(aet), address: Some(peer.ip().to_string()) };
    let report = state.archive.store(StoreRequest { parts: bodies, study_uid: study, actor, source: Source::Stow }).await?;

    let base = urls::rs_base(&headers, &uri);
    let mut referenced = Vec::new();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    let mut studies = std::collections::BTreeSet::new();
    for r in report.results {
        match r {
            PartResult::Stored { study_uid, series_uid, sop_class_uid, sop_instance_uid, .. } => {
                let url = urls::retrieve_url(&base, &study_uid, Some(&series_uid), Some(&sop_instance_uid));
                studies.insert(study_uid);
                referenced.push(json!({
                    "00081150": {"vr": "UI", "Value": [sop_class_uid]},
                    "00081155": {"vr": "UI", "Value": [sop_instance_uid]},
                    "00081190": {"vr": "UR", "Value": [url]},
                }));
            }
            PartResult::Failed { sop_class_uid, sop_instance_uid, status, reason } => {
                warnings.push(format!("{}: {reason}", sop_instance_uid.as_deref().unwrap_or("unreadable part")));
                failed.push(failed_item(sop_class_uid, sop_instance_uid, status));
            }
        }
    }
    for (i, t) in wrong_type {
        warnings.push(format!("part {}: media type {t} is not application/dicom", i + 1));
        // PS3.18 Table 10.5.3-3 lists no code for this; dcm4chee uses 0xC122-like Cxxx "cannot understand".
        failed.push(failed_item(None, None, 0xC000));
    }

    let mut doc = Map::new();
    if studies.len() == 1 {
        let s = studies.iter().next().expect("one study");
        doc.insert("00081190".into(), json!({"vr": "UR", "Value": [urls::retrieve_url(&base, s, None, None)]}));
    }
    if !failed.is_empty() {
        doc.insert("00081198".into(), json!({"vr": "SQ", "Value": failed}));
    }
    if !referenced.is_empty() {
        doc.insert("00081199".into(), json!({"vr": "SQ", "Value": referenced.clone()}));
    }
    let status = match (referenced.is_empty(), failed.is_empty()) {
        (false, true) => StatusCode::OK,
        (false, false) => StatusCode::ACCEPTED,
        (true, _) => StatusCode::CONFLICT,
    };
    let mut resp = (status, [(header::CONTENT_TYPE, "application/dicom+json")], Value::Object(doc).to_string()).into_response();
    if let Some(seq) = report.last_seq {
        resp.headers_mut().insert(SEQUENCE, seq.into());
    }
    for w in warnings.iter().take(20) {
        // RFC 7234 warn-text is a quoted string: no quotes or controls inside.
        let text: String = w.chars().map(|c| if c == '"' || c.is_control() { '\'' } else { c }).collect();
        if let Ok(v) = format!("299 arcstream \"{text}\"").parse() {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    Ok(resp)
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
