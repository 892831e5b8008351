"""Makes distinct instances from a fixture by giving each new UIDs and a new patient."""
import io
import warnings

import pydicom
from pydicom.uid import generate_uid

from conftest import FIXTURES


def distinct_instances(n, per_series=5, source="CT_small.dcm"):
    """Yields n Part 10 files as bytes: new study/series/SOP UIDs, one patient per study."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = pydicom.dcmread(FIXTURES / "pydicom" / source)
    study = series = None
    for i in range(n):
        if i % (per_series * 2) == 0:
            study = generate_uid()
            patient = f"PAT{i // (per_series * 2):05d}"
        if i % per_series == 0:
            series = generate_uid()
        ds = template.copy()
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = patient
        ds.PatientName = f"Test^{patient}"
        ds.InstanceNumber = i % per_series + 1
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        yield ds.SOPInstanceUID, out.getvalue()
