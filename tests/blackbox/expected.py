"""What the archive must answer for each fixture, derived from the files with pydicom and
dcmtk's dcmdump — never from arcstream."""
import re
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pydicom

EXPLICIT_LE = "1.2.840.10008.1.2.1"
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}


@dataclass
class FileFacts:
    path: Path
    data: bytes
    storable: bool
    why_not: str = ""
    study: Optional[str] = None
    series: Optional[str] = None
    sop: Optional[str] = None
    sop_class: Optional[str] = None
    ts: Optional[str] = None
    modality: Optional[str] = None
    patient_id: Optional[str] = None


def facts(path: Path) -> FileFacts:
    data = path.read_bytes()
    # dcmdump reads the whole file: a truncated one fails here even if pydicom reads it lazily.
    dump = subprocess.run(["dcmdump", "-q", str(path)], capture_output=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path)
            for e in ds.iterall():
                e.value
    except Exception as e:  # noqa: BLE001 - any failure to read means "not storable"
        return FileFacts(path, data, False, f"pydicom: {type(e).__name__}")
    # A meta header that names explicit VR over an implicit VR dataset: pydicom detects and
    # reads it, dcmtk gives up; the object itself is whole, so it is storable.
    vr_recovered = any("found implicit VR" in str(w.message) for w in caught)
    if dump.returncode != 0 and not vr_recovered:
        return FileFacts(path, data, False, "dcmdump cannot read the whole file")
    ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    uids = {k: ds.get(k) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")}
    if not ts:
        return FileFacts(path, data, False, "no transfer syntax in the meta header")
    missing = [k for k, v in uids.items() if not v]
    if missing:
        return FileFacts(path, data, False, f"missing {missing}")
    # PS3.5 9.1: digits in non-empty components separated by dots, at most 64 characters
    # (pydicom strips the padding); leading zeros are tolerated
    invalid = [k for k, v in uids.items() if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", str(v)) or len(str(v)) > 64]
    if invalid:
        return FileFacts(path, data, False, f"invalid {invalid}")
    return FileFacts(
        path, data, True, "",
        str(uids["StudyInstanceUID"]), str(uids["SeriesInstanceUID"]), str(uids["SOPInstanceUID"]),
        str(uids["SOPClassUID"]), str(ts), ds.get("Modality") or None, ds.get("PatientID", ""),
    )


@dataclass
class Expectation:
    files: list
    first: dict = field(default_factory=dict)  # sop -> FileFacts of its first file
    later: list = field(default_factory=list)  # (FileFacts, first FileFacts) for later files of a UID
    bad: list = field(default_factory=list)

    @classmethod
    def of(cls, paths):
        exp = cls([facts(p) for p in sorted(paths)])
        for f in exp.files:
            if not f.storable:
                exp.bad.append(f)
            elif f.sop in exp.first:
                exp.later.append((f, exp.first[f.sop]))
            else:
                exp.first[f.sop] = f
        return exp

    def studies(self):
        out = {}
        for f in self.first.values():
            s = out.setdefault(f.study, {"series": {}, "modalities": set(), "classes": set()})
            s["series"].setdefault(f.series, []).append(f)
            if f.modality:
                s["modalities"].add(f.modality)
            s["classes"].add(f.sop_class)
        return out
