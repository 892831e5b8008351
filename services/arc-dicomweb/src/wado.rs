//! WADO-RS (PS3.18 10.4): instances as `multipart/related; type="application/dicom"` or as a
//! streamed `application/zip` — the stored bytes when the client accepts their syntax, else
//! Explicit VR Little Endian; an instance with current attributes that differ from its blob
//! (coercion now, edits later) is re-encoded with them, any other streams untouched. Every
//! answer carries an ETag (the last log position that touched the resource) and
//! Last-Modified, and a matching If-None-Match / If-Modified-Since is answered 304.

use crate::accept::{self, RetrieveFormat};
use crate::{check_aet, conditional, zip, ApiError, AppState};
use arc_archive::Retrieve;
use arc_projector::InstanceRec;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream::BoxStream;
use futures::StreamExt;

pub(crate) fn accept_param(query: &Option<String>) -> Option<String> {
    let values: Vec<String> = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "accept")
        .map(|(_, v)| v.into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// GET /studies/{study}
pub(crate) async fn study(
    State(state): State<AppState>,
    Path((aet, study)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    retrieve(state, aet, study, None, None, q, headers).await
}

/// GET /studies/{study}/series/{series}
pub(crate) async fn series(
    State(state): State<AppState>,
    Path((aet, study, series)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    retrieve(state, aet, study, Some(series), None, q, headers).await
}

/// GET /studies/{study}/series/{series}/instances/{instance}
pub(crate) async fn instance(
    State(state): State<AppState>,
    Path((aet, study, series, instance)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    retrieve(state, aet, study, Some(series), Some(instance), q, headers).await
}

/// The bytes of one instance in the syntax chosen for it, with its current attributes
/// merged in when they differ from the blob (blocking work off the workers).
pub(crate) async fn instance_in(
    retrieve: &Retrieve,
    rec: &InstanceRec,
    ts: &str,
) -> Result<Bytes, ApiError> {
    let bytes = retrieve.bytes(rec).await?;
    let overrides = rec.overrides();
    if ts == rec.transfer_syntax && overrides.is_empty() {
        return Ok(bytes);
    }
    let stored = rec.transfer_syntax.clone();
    let target = ts.to_string();
    // decompress or convert first (arc_dicom::transcode), then merge current attributes
    crate::pixel_params::blocking(move || {
        let bytes = if target == stored {
            bytes.to_vec()
        } else {
            arc_dicom::transcode(&bytes, &target)?
        };
        if overrides.is_empty() {
            Ok(bytes)
        } else {
            arc_dicom::apply_overrides(&bytes, &overrides, &target)
        }
    })
    .await
    .map(Bytes::from)
}

/// Instances of a multipart retrieve prepared ahead of the one being sent.
const READ_AHEAD: usize = 4;

type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// An instance as a stream: the stored blob chunk by chunk when it goes out untouched.
async fn instance_stream(
    retrieve: &Retrieve,
    rec: &InstanceRec,
    ts: &str,
) -> Result<(u64, ByteStream), ApiError> {
    if ts == rec.transfer_syntax && rec.overrides().is_empty() {
        if rec.size <= arc_objstore::CHUNK as u64 {
            // small: read whole now, so read-ahead really has it ready
            let bytes = retrieve.bytes(rec).await?;
            return Ok((
                bytes.len() as u64,
                futures::stream::once(async move { Ok(bytes) }).boxed(),
            ));
        }
        let s = retrieve.stream(rec).await?;
        return Ok((
            s.size,
            s.chunks.map(|r| r.map_err(std::io::Error::other)).boxed(),
        ));
    }
    let bytes = instance_in(retrieve, rec, ts).await?;
    Ok((
        bytes.len() as u64,
        futures::stream::once(async move { Ok(bytes) }).boxed(),
    ))
}

async fn retrieve(
    state: AppState,
    aet: String,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let format = accept::retrieve_format(&headers, accept_param(&query).as_deref())?;
    let retrieve = state.archive.retrieve();
    let selected = retrieve.select(&study, series.as_deref(), instance.as_deref())?;
    let validators = conditional::Validators::of(
        &retrieve,
        &study,
        series.as_deref(),
        instance.as_deref(),
        &format!("{format:?}"),
    )?;
    if let Some(not_modified) = validators.check(&headers) {
        return Ok(not_modified);
    }
    let choice = match &format {
        RetrieveFormat::Multipart(c) | RetrieveFormat::Zip(c) => c.clone(),
    };
    let total = selected.len();
    let stored: Vec<String> = selected
        .iter()
        .map(|(_, r)| r.transfer_syntax.clone())
        .collect();
    let mut plan: Vec<(String, InstanceRec, String)> = selected
        .into_iter()
        .filter_map(|(sop, rec)| choice.pick(&rec.transfer_syntax).map(|ts| (sop, rec, ts)))
        .collect();
    if plan.is_empty() {
        let what = if total == 1 {
            "the matching instance is".to_string()
        } else {
            format!("the {total} matching instances are")
        };
        let stored: Vec<&str> = stored.iter().map(String::as_str).collect();
        return Err(accept::syntax_not_offered(
            &what,
            &stored,
            &choice.describe(),
            "transfer-syntax",
            arc_dicom::pixels::NATIVE_TARGETS,
        ));
    }
    if (total, plan.len()) == (1, 1)
        && (plan[0].2 != plan[0].1.transfer_syntax || !plan[0].1.overrides().is_empty())
    {
        // one instance to convert: convert before answering, so that a failure (an
        // undecodable bitstream) gets its own status instead of cutting the stream
        let (sop, rec, ts) = plan.pop().expect("one instance");
        let bytes = instance_in(&retrieve, &rec, &ts).await?;
        let mut resp = match format {
            RetrieveFormat::Multipart(_) => {
                let mut w = arc_dicom::MultipartWriter::new("application/dicom");
                w.part(
                    &format!("application/dicom; transfer-syntax={ts}"),
                    &[],
                    bytes,
                );
                ([(header::CONTENT_TYPE, w.content_type())], w.finish()).into_response()
            }
            RetrieveFormat::Zip(_) => {
                let (ct, body) = zip_body(retrieve, vec![(sop, rec, ts)], Some(bytes));
                ([(header::CONTENT_TYPE, ct)], body).into_response()
            }
        };
        validators.apply(&mut resp);
        return Ok(resp);
    }
    let skipped = total - plan.len();
    let (ct, body) = match format {
        RetrieveFormat::Multipart(_) => multipart_body(retrieve, plan),
        RetrieveFormat::Zip(_) => zip_body(retrieve, plan, None),
    };
    let status = if skipped > 0 {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = (status, [(header::CONTENT_TYPE, ct)], body).into_response();
    if skipped > 0 {
        crate::add_warning(&mut resp, &format!("{skipped} of {total} instances are stored in a syntax this archive cannot decode and were left out; ask for transfer-syntax=*"));
    }
    validators.apply(&mut resp);
    Ok(resp)
}

/// Streams the instances as a multipart/related body, a few instances read ahead.
fn multipart_body(retrieve: Retrieve, plan: Vec<(String, InstanceRec, String)>) -> (String, Body) {
    let boundary = arc_dicom::new_boundary();
    let b = boundary.clone();
    // Up to READ_AHEAD instances are opened (or converted) while earlier ones are sent, so
    // one client's retrieve is not a chain of object-store round trips.
    let parts = futures::stream::iter(plan).map(move |(_, rec, ts)| {
        let retrieve = retrieve.clone();
        let boundary = b.clone();
        async move {
            let (len, stream) = instance_stream(&retrieve, &rec, &ts).await.map_err(|e| std::io::Error::other(e.to_string()))?;
            let head = format!("--{boundary}\r\nContent-Type: application/dicom; transfer-syntax={ts}\r\nContent-Length: {len}\r\n\r\n");
            let tail = futures::stream::iter([Ok(Bytes::from_static(b"\r\n"))]);
            Ok::<_, std::io::Error>(futures::stream::iter([Ok(Bytes::from(head))]).chain(stream).chain(tail))
        }
    })
    .buffered(READ_AHEAD);
    let ct = format!("multipart/related; type=\"application/dicom\"; boundary={boundary}");
    let close = futures::stream::once(async move {
        Ok::<_, std::io::Error>(Bytes::from(format!("--{boundary}--\r\n")))
    });
    let body = parts.map(flatten_err).flatten().chain(close);
    (ct, Body::from_stream(body))
}

fn flatten_err<S>(
    r: std::io::Result<S>,
) -> futures::future::Either<S, futures::stream::Iter<std::vec::IntoIter<std::io::Result<Bytes>>>>
where
    S: futures::Stream<Item = std::io::Result<Bytes>>,
{
    match r {
        Ok(s) => futures::future::Either::Left(s),
        Err(e) => futures::future::Either::Right(futures::stream::iter(vec![Err(e)])),
    }
}

/// Streams the instances as a ZIP archive, entries named `study/series/instance.dcm`; the
/// archive is written as the instances stream, never built in memory. `ready` is the
/// already converted content of a single instance.
fn zip_body(
    retrieve: Retrieve,
    plan: Vec<(String, InstanceRec, String)>,
    ready: Option<Bytes>,
) -> (String, Body) {
    let writer = std::sync::Arc::new(std::sync::Mutex::new(zip::ZipWriter::default()));
    let w = writer.clone();
    let mut ready = ready;
    let entries = futures::stream::iter(plan).then(move |(sop, rec, ts)| {
        let retrieve = retrieve.clone();
        let w = w.clone();
        let ready = ready.take();
        async move {
            let stream = match ready {
                Some(bytes) => futures::stream::once(async move { Ok(bytes) }).boxed(),
                None => {
                    instance_stream(&retrieve, &rec, &ts)
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))?
                        .1
                }
            };
            let name = format!("{}/{}/{sop}.dcm", rec.study_uid, rec.series_uid);
            let head = w.lock().expect("zip writer").start(&name);
            let w2 = w.clone();
            let data = stream.map(move |r| r.map(|b| w2.lock().expect("zip writer").data(b)));
            let w3 = w.clone();
            let end =
                futures::stream::once(async move { Ok(w3.lock().expect("zip writer").end()) });
            Ok::<_, std::io::Error>(futures::stream::iter([Ok(head)]).chain(data).chain(end))
        }
    });
    let finish = futures::stream::once(async move {
        Ok::<_, std::io::Error>(writer.lock().expect("zip writer").finish())
    });
    let body = entries.map(flatten_err).flatten().chain(finish);
    ("application/zip".to_string(), Body::from_stream(body))
}
