"""Session fixtures of the conformance suite: the corpus, an arcstream node (the real binary,
started as tests/blackbox does) and an Orthanc with its DICOMweb plugin, both holding the same
objects stored with dicomweb-client, and a dicomweb-client for each."""
import importlib.util
import io
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pydicom
import pydicom.config
import pytest
import requests
from dicomweb_client import DICOMwebClient

from orthanc import Orthanc

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

# Keep elements as encoded: pydicom would otherwise turn UN elements it knows (private ones
# too) into their dictionary VR when read, so the same data set would encode differently once
# a test looked at it.
pydicom.config.replace_un_with_known_vr = False

# The black-box suite's launcher of the real binary, loaded under another module name (both
# folders have a conftest.py).
_spec = importlib.util.spec_from_file_location("blackbox_conftest", ROOT / "tests" / "blackbox" / "conftest.py")
blackbox = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(blackbox)

# Objects of the pydicom corpus with distinct SOP Instance UIDs, one per encoding or kind:
# explicit/implicit/big-endian/deflated little endian, JPEG 2000 and RLE, SR, RT, SEG, ECG.
PYDICOM_FILES = [
    "CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "rtplan.dcm", "ExplVR_BigEnd.dcm", "JPEG2000.dcm",
    "SC_rgb_rle.dcm", "image_dfl.dcm", "test-SR.dcm", "reportsi.dcm", "waveform_ecg.dcm",
    "liver_1frame.dcm", "examples_overlay.dcm", "SC_rgb_small_odd.dcm",
]
# Names in other character sets (single-byte, ISO 2022, UTF-8, GB18030), distinct UIDs.
CHARSET_FILES = [
    "chrArab.dcm", "chrFren.dcm", "chrGerm.dcm", "chrGreek.dcm", "chrH31.dcm", "chrH32.dcm", "chrHbrw.dcm",
    "chrI2.dcm", "chrJapMulti.dcm", "chrKoreanMulti.dcm", "chrRuss.dcm", "chrX1.dcm", "chrX2.dcm",
]


@dataclass
class Item:
    """One object of the corpus: where it comes from, the data set, and the bytes
    dicomweb-client sends for it (pydicom.dcmwrite of the data set, as its store_instances does)."""

    name: str
    path: Path
    ds: pydicom.Dataset
    data: bytes

    @property
    def study(self):
        return self.ds.StudyInstanceUID

    @property
    def series(self):
        return self.ds.SeriesInstanceUID

    @property
    def sop(self):
        return self.ds.SOPInstanceUID

    @property
    def ts(self):
        return str(self.ds.file_meta.TransferSyntaxUID)


def encoded(ds):
    with io.BytesIO() as b:
        pydicom.dcmwrite(b, ds)
        return b.getvalue()


def load_corpus():
    paths = [p for p in sorted((FIXTURES / "pydicom-dicomdir").rglob("*")) if p.is_file() and p.suffix != ".txt"]
    paths += [FIXTURES / "pydicom" / n for n in PYDICOM_FILES]
    paths += [FIXTURES / "pydicom-charsets" / n for n in CHARSET_FILES]
    items = []
    for p in paths:
        ds = pydicom.dcmread(p)
        data = encoded(ds)
        assert encoded(pydicom.dcmread(io.BytesIO(data))) == data, p
        items.append(Item(str(p.relative_to(FIXTURES)), p, pydicom.dcmread(io.BytesIO(data)), data))
    sops = [i.sop for i in items]
    assert len(set(sops)) == len(sops), "the corpus must hold distinct SOP Instance UIDs"
    return items


class RecordingSession(requests.Session):
    """A requests session that keeps the last answer, so tests can read the raw bytes behind
    what dicomweb-client decoded."""

    def __init__(self):
        super().__init__()
        self.last = None
        self.hooks["response"].append(self._keep)

    def _keep(self, resp, *args, **kwargs):
        self.last = resp


class Peer:
    """A DICOMweb server under test: its DICOMweb root, WADO-URI endpoint and client."""

    def __init__(self, name, dicomweb, wado):
        self.name, self.dicomweb, self.wado = name, dicomweb, wado
        self.session = RecordingSession()
        self.client = DICOMwebClient(dicomweb, session=self.session, timeout=120)
        # dicomweb-client 0.61 sends `Host: 127.0.0.1` without the port, so servers that build
        # Retrieve URLs and BulkDataURIs from Host (both do, PS3.18 8.6.1.1) would point to
        # port 80; send the host as the URL names it.
        self.client.host = urlsplit(dicomweb).netloc


@pytest.fixture(scope="session")
def corpus():
    return load_corpus()


@pytest.fixture(scope="session")
def arc_server(tmp_path_factory):
    s = blackbox.Server(tmp_path_factory.mktemp("arcstream") / "data").start()
    yield s
    s.kill()


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory):
    o = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    yield o
    o.stop()


def store_all(peer, corpus):
    """STOW-RS with dicomweb-client, in batches; returns the Store Instances Responses."""
    answers = []
    for i in range(0, len(corpus), 20):
        # fresh data sets: pydicom re-encodes text it has decoded (ISO 2022 escapes may
        # change), so a data set a test has looked at could be sent as other bytes
        fresh = [pydicom.dcmread(io.BytesIO(item.data)) for item in corpus[i : i + 20]]
        answers.append(peer.client.store_instances(fresh))
    return answers


@pytest.fixture(scope="session")
def arc(arc_server, corpus):
    peer = Peer("arcstream", arc_server.base, f"{arc_server.url}/aets/{blackbox.AET}/wado")
    peer.stored = store_all(peer, corpus)
    return peer


@pytest.fixture(scope="session")
def orthanc(orthanc_server, corpus):
    peer = Peer("Orthanc", orthanc_server.dicomweb, orthanc_server.wado)
    peer.stored = store_all(peer, corpus)
    return peer
