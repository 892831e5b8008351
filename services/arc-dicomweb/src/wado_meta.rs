//! WADO-RS metadata (PS3.18 10.4.1.1.2): headers as DICOM JSON or as
//! `multipart/related; type="application/dicom+xml"` (PS3.19), with current attributes
//! merged in, `includefield` and `excludeprivate` applied, absolute BulkDataURIs (bulk data
//! itself is `wado_bulk`'s).

use crate::accept::{self, Structured};
use crate::wado::accept_param;
use crate::{check_aet, conditional, urls, ApiError, AppState};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use std::collections::BTreeSet;

/// Which attributes a metadata answer keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filter {
    /// `includefield`: these top-level attributes (and the identifying UIDs); `None`: all.
    include: Option<BTreeSet<String>>,
    /// `excludeprivate=true`: no private attributes (odd groups), at any depth.
    exclude_private: bool,
}

/// Study, Series and SOP Instance UID and SOP Class UID: kept whatever `includefield` says,
/// so every answer stays identifiable.
const ALWAYS: &[&str] = &["0020000D", "0020000E", "00080018", "00080016"];

fn parse_filter(query: &Option<String>) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "includefield" => {
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if name == "all" {
                        f.include = None;
                        return Ok(Filter {
                            include: None,
                            ..parse_private(query)?
                        });
                    }
                    let tag = arc_dicom::tag_of(name).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "includefield {name:?} is not a DICOM keyword or tag"
                        ))
                    })?;
                    f.include.get_or_insert_with(BTreeSet::new).insert(tag);
                }
            }
            "excludeprivate" => f.exclude_private = parse_bool(&v)?,
            _ => {}
        }
    }
    Ok(f)
}

fn parse_private(query: &Option<String>) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        if k == "excludeprivate" {
            f.exclude_private = parse_bool(&v)?;
        }
    }
    Ok(f)
}

fn parse_bool(v: &str) -> Result<bool, ApiError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "excludeprivate must be true or false, not {other:?}"
        ))),
    }
}

fn is_private(key: &str) -> bool {
    u16::from_str_radix(key.get(..4).unwrap_or("0000"), 16).is_ok_and(|g| g % 2 == 1)
}

fn strip_private(v: &mut Value) {
    if let Value::Object(map) = v {
        map.retain(|k, _| !is_private(k));
        for attr in map.values_mut() {
            if let Some(Value::Array(items)) = attr.get_mut("Value") {
                items.iter_mut().for_each(strip_private);
            }
        }
    }
}

impl Filter {
    fn apply(&self, header: &mut Value) {
        if let (Some(keep), Value::Object(map)) = (&self.include, &mut *header) {
            map.retain(|k, _| keep.contains(k) || ALWAYS.contains(&k.as_str()));
        }
        if self.exclude_private {
            strip_private(header);
        }
    }
}

type Q = RawQuery;

/// Instance headers a metadata answer decodes at the same time.
const METADATA_AHEAD: usize = 4;

/// GET /studies/{study}/metadata
pub(crate) async fn study_metadata(
    State(s): State<AppState>,
    Path((aet, st)): Path<(String, String)>,
    OriginalUri(u): OriginalUri,
    RawQuery(q): Q,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    metadata(s, aet, st, None, None, u, q, h).await
}

/// GET /studies/{study}/series/{series}/metadata
pub(crate) async fn series_metadata(
    State(s): State<AppState>,
    Path((aet, st, se)): Path<(String, String, String)>,
    OriginalUri(u): OriginalUri,
    RawQuery(q): Q,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    metadata(s, aet, st, Some(se), None, u, q, h).await
}

/// GET /studies/{study}/series/{series}/instances/{instance}/metadata
pub(crate) async fn instance_metadata(
    State(s): State<AppState>,
    Path((aet, st, se, i)): Path<(String, String, String, String)>,
    OriginalUri(u): OriginalUri,
    RawQuery(q): Q,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    metadata(s, aet, st, Some(se), Some(i), u, q, h).await
}

#[allow(clippy::too_many_arguments)]
async fn metadata(
    state: AppState,
    aet: String,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    uri: axum::http::Uri,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let format = accept::structured(&headers, accept_param(&query).as_deref(), true)?;
    let filter = parse_filter(&query)?;
    let retrieve = state.archive.retrieve();
    let selected = retrieve.select(&study, series.as_deref(), instance.as_deref())?;
    let variant = format!("metadata {format:?} {filter:?}");
    let validators = conditional::Validators::of(
        &retrieve,
        &study,
        series.as_deref(),
        instance.as_deref(),
        &variant,
    )?;
    if let Some(r) = validators.check(&headers) {
        return Ok(r);
    }
    let base = urls::rs_base(&headers, &uri);
    // Each header is decoded, merged, filtered and serialised on a blocking thread, up to
    // METADATA_AHEAD at a time, in storage order: a large series is CPU work, not waiting.
    let out: Vec<Vec<u8>> = futures::stream::iter(selected.into_iter().map(|(sop, rec)| {
        let (retrieve, filter) = (retrieve.clone(), filter.clone());
        let instance_url =
            urls::retrieve_url(&base, &rec.study_uid, Some(&rec.series_uid), Some(&sop));
        async move {
            let overrides = rec.overrides();
            let one = retrieve
                .header_with(&sop, &rec, move |mut header| {
                    arc_dicom::merge_json(&mut header, &overrides);
                    filter.apply(&mut header);
                    absolutize(&mut header, &instance_url);
                    match format {
                        Structured::Json => serde_json::to_vec(&header).map_err(|e| e.to_string()),
                        Structured::Xml => Ok(arc_dicom::json_to_native_xml(&header).into_bytes()),
                    }
                })
                .await?;
            one.map_err(ApiError::Internal)
        }
    }))
    .buffered(METADATA_AHEAD)
    .try_collect()
    .await?;
    let mut resp = match format {
        Structured::Json => {
            // the compact JSON array of the headers, as serde_json writes one
            let mut body = Vec::with_capacity(out.iter().map(|h| h.len() + 1).sum::<usize>() + 2);
            body.push(b'[');
            for (i, h) in out.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(h);
            }
            body.push(b']');
            (
                [(header::CONTENT_TYPE, "application/dicom+json".to_string())],
                body,
            )
                .into_response()
        }
        Structured::Xml => {
            let mut w = arc_dicom::MultipartWriter::new("application/dicom+xml");
            for h in out {
                w.part("application/dicom+xml", &[], h);
            }
            let ct = w.content_type();
            ([(header::CONTENT_TYPE, ct)], w.finish()).into_response()
        }
    };
    validators.apply(&mut resp);
    Ok(resp)
}

/// Turns the stored relative BulkDataURIs (`bulkdata/…`) into absolute URLs of this instance.
pub(crate) fn absolutize(value: &mut Value, instance_url: &str) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "BulkDataURI" {
                    if let Value::String(s) = v {
                        if !s.contains("://") {
                            *s = format!("{instance_url}/{s}");
                        }
                    }
                } else {
                    absolutize(v, instance_url);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolutize(v, instance_url)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_keep_identity_and_drop_private() {
        let q = Some("includefield=PatientName,00080060&excludeprivate=true".to_string());
        let f = parse_filter(&q).unwrap();
        let mut h = serde_json::json!({
            "00100010": {"vr": "PN"}, "00080060": {"vr": "CS"}, "00100020": {"vr": "LO"},
            "00080018": {"vr": "UI"}, "00091001": {"vr": "LO"}
        });
        f.apply(&mut h);
        let keys: Vec<&String> = h.as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["00080018", "00080060", "00100010"]);
        let mut nested = serde_json::json!({"00081115": {"vr": "SQ", "Value": [{"00291010": {"vr": "OB"}, "0020000E": {"vr": "UI"}}]}});
        parse_filter(&Some("excludeprivate=true".into()))
            .unwrap()
            .apply(&mut nested);
        assert!(nested["00081115"]["Value"][0].get("00291010").is_none());
        assert!(parse_filter(&Some("includefield=NotAKeyword".into())).is_err());
        assert_eq!(
            parse_filter(&Some("includefield=all".into()))
                .unwrap()
                .include,
            None
        );
    }
}
