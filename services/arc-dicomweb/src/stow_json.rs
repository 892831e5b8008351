//! STOW-RS of DICOM JSON metadata with bulk data parts (PS3.18 10.5.1.2.2).

use crate::{ApiError, AppState};
use arc_archive::{PartOutcome, SpooledPart, StoreContext};

/// Builds and prepares one instance per metadata data set.
pub(crate) async fn store(_state: &AppState, _parts: Vec<SpooledPart>, _ctx: &StoreContext) -> Result<Vec<PartOutcome>, ApiError> {
    Err(ApiError::UnsupportedMediaType("not yet".into()))
}
