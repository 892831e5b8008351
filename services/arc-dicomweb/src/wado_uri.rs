//! WADO-URI (PS3.18 9): `GET /aets/{AET}/wado?requestType=WADO&studyUID=…&seriesUID=…&
//! objectUID=…&contentType=application/dicom[&transferSyntax=…]`. Rendered content types
//! arrive with the DICOMweb-in-full work; until then only `application/dicom` is offered.

use crate::accept::{TsChoice, EXPLICIT_LE};
use crate::{check_aet, wado, ApiError, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// GET /aets/{aet}/wado
pub(crate) async fn wado(State(state): State<AppState>, Path(aet): Path<String>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let params: Vec<(String, String)> = form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
    let required = |name: &str| get(name).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::BadRequest(format!("WADO-URI needs the {name} parameter (PS3.18 9.1.2)")));
    match get("requestType").as_deref() {
        Some("WADO") => {}
        Some(other) => return Err(ApiError::BadRequest(format!("requestType must be WADO, not {other:?}"))),
        None => return Err(ApiError::BadRequest("WADO-URI needs requestType=WADO (PS3.18 9.1.2)".into())),
    }
    let (study, series, object) = (required("studyUID")?, required("seriesUID")?, required("objectUID")?);
    // PS3.18 9.1.2.1.4: contentType is a list; without it, a single-frame image would be
    // rendered as image/jpeg, which this version cannot do yet.
    let content_types = get("contentType").unwrap_or_default();
    let wants_dicom = content_types
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .any(|t| t == "application/dicom" || t == "*/*");
    if !wants_dicom {
        return Err(ApiError::NotAcceptable(format!(
            "contentType {:?} cannot be served yet; offered: contentType=application/dicom",
            content_types
        )));
    }
    // PS3.18 9.1.2.1.5 transferSyntax: `*` means as stored; default Explicit VR Little Endian.
    let choice = match get("transferSyntax").as_deref() {
        Some("*") => TsChoice::AsStored,
        Some(ts) if !ts.is_empty() => TsChoice::Listed(vec![ts.to_string()]),
        _ => TsChoice::Listed(vec![EXPLICIT_LE.to_string()]),
    };
    let retrieve = state.archive.retrieve();
    let (_, rec) = retrieve.select(&study, Some(&series), Some(&object))?.remove(0);
    let ts = choice.pick(&rec.transfer_syntax).ok_or_else(|| {
        ApiError::NotAcceptable(format!(
            "object is stored in {} and cannot be sent in the requested transfer syntax; use transferSyntax=* or {EXPLICIT_LE}",
            rec.transfer_syntax
        ))
    })?;
    let bytes = wado::instance_in(&retrieve, &rec, &ts).await?;
    Ok(([(header::CONTENT_TYPE, format!("application/dicom; transfer-syntax={ts}"))], bytes).into_response())
}
