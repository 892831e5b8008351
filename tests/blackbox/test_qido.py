"""QIDO-RS against the real binary: every level and nested form, counts and sizes, matching
(person names by group and component, fuzzy, empty values, dates with combined date-time,
UID lists, sequences), orderby with paging, limits and warnings, JSON/XML/CSV answers, errors,
and every character set of pydicom's charset files. Expected answers come from the files,
read with pydicom."""
import csv
import datetime
import io
import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest
import requests
from pydicom.uid import generate_uid

from conftest import FIXTURES, Server, parse_multipart, stow

DEFAULT_LIMIT, MAX_LIMIT = 20, 30
NS = "{http://dicom.nema.org/PS3.19/models/NativeDICOM}"


def values(doc, tag):
    return doc.get(tag, {}).get("Value", [])


def to_bytes(ds):
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def with_new_uids(path, edit=None):
    """A copy of a file under new Study/Series/SOP Instance UIDs; raw text elements untouched."""
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    if "SOPClassUID" not in ds:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    if edit:
        edit(ds)
    return to_bytes(ds)


class Stored:
    """One stored object: its bytes and what pydicom reads from them."""

    def __init__(self, name, data):
        self.name, self.data = name, data
        self.ds = pydicom.dcmread(io.BytesIO(data))

    def get(self, keyword, default=""):
        v = self.ds.get(keyword, default)
        return default if v is None else v


def corpus():
    out = []
    for p in sorted((FIXTURES / "pydicom-dicomdir").rglob("*")):
        if p.is_file() and p.suffix != ".txt":
            out.append(Stored(str(p.relative_to(FIXTURES)), p.read_bytes()))
    seen = set()
    for p in sorted((FIXTURES / "pydicom-charsets").glob("chr*.dcm")):
        ds = pydicom.dcmread(p)
        if "StudyInstanceUID" not in ds or ds.SOPInstanceUID in seen:
            # no UIDs (chrSQEncoding*) or the UIDs of a file already stored: new UIDs
            out.append(Stored(p.name + "+uids", with_new_uids(p)))
        else:
            seen.add(ds.SOPInstanceUID)
            out.append(Stored(p.name, p.read_bytes()))

    def request_attributes(ds):
        item = pydicom.Dataset()
        item.ScheduledProcedureStepID, item.RequestedProcedureID = "SPS-42", "RP-7"
        ds.RequestAttributesSequence = pydicom.Sequence([item])

    ct = FIXTURES / "pydicom-dicomdir" / "77654033" / "CT2" / "17136"
    out.append(Stored("CT2/17136+request", with_new_uids(ct, request_attributes)))
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    env = {"ARCSTREAM_QIDO_DEFAULT_LIMIT": str(DEFAULT_LIMIT), "ARCSTREAM_QIDO_MAX_LIMIT": str(MAX_LIMIT)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        s = Server(tmp_path_factory.mktemp("qido") / "data").start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    files = corpus()
    for i in range(0, len(files), 20):
        r = stow(s.base, [f.data for f in files[i:i + 20]])
        assert r.status_code == 200, r.text
    yield s, files
    s.kill()


def get(s, path, **params):
    r = requests.get(f"{s.base}/{path}", params=params)
    assert r.status_code == 200, (path, params, r.status_code, r.text)
    return r


def study_uids(s, **params):
    params.setdefault("limit", 1000)
    return sorted(values(d, "0020000D")[0] for d in get(s, "studies", **params).json())


def studies_of(files, pred):
    return sorted({f.ds.StudyInstanceUID for f in files if pred(f)})


def groups(f):
    """Patient's Name groups as pydicom decodes them."""
    pn = f.ds.get("PatientName")
    return [str(g) for g in (pn.components if pn is not None else [])]


def test_patients_with_their_counts(archive):
    s, files = archive
    want = defaultdict(lambda: {"studies": set(), "series": set(), "instances": 0})
    for f in files:
        p = want[(f.get("PatientID"), f.get("IssuerOfPatientID"))]
        p["studies"].add(f.ds.StudyInstanceUID)
        p["series"].add(f.ds.SeriesInstanceUID)
        p["instances"] += 1
    docs = get(s, "patients", limit=1000).json()
    assert get(s, "patients/count").json() == {"count": len(want)}
    got = {}
    for d in docs:
        key = ((values(d, "00100020") or [""])[0], (values(d, "00100021") or [""])[0])
        got[key] = (values(d, "00201200")[0], values(d, "00201202")[0], values(d, "00201204")[0])
        assert "00081190" not in d
    assert got == {k: (len(v["studies"]), len(v["series"]), v["instances"]) for k, v in want.items()}
    (d,) = get(s, "patients", PatientID="98890234").json()
    assert values(d, "00100010") == [{"Alphabetic": "Doe^Peter"}]
    assert get(s, "patients/count", PatientName="doe").json() == {"count": 2}


def test_counts_at_every_level_and_nested(archive):
    s, files = archive
    studies = {f.ds.StudyInstanceUID for f in files}
    series = {f.ds.SeriesInstanceUID for f in files}
    assert get(s, "studies/count").json() == {"count": len(studies)}
    assert get(s, "series/count").json() == {"count": len(series)}
    assert get(s, "instances/count").json() == {"count": len(files)}
    big = max(studies, key=lambda u: sum(f.ds.StudyInstanceUID == u for f in files))
    in_big = [f for f in files if f.ds.StudyInstanceUID == big]
    assert get(s, f"studies/{big}/instances/count").json() == {"count": len(in_big)}
    se = {f.ds.SeriesInstanceUID for f in in_big}
    assert get(s, f"studies/{big}/series/count").json() == {"count": len(se)}
    one = next(iter(se))
    n = sum(f.ds.SeriesInstanceUID == one for f in files)
    assert get(s, f"studies/{big}/series/{one}/instances/count").json() == {"count": n}
    docs = get(s, f"studies/{big}/series/{one}/instances").json()
    assert len(docs) == min(n, DEFAULT_LIMIT)
    assert get(s, "series/count", Modality="MR").json() == {"count": len({f.ds.SeriesInstanceUID for f in files if f.get("Modality") == "MR"})}


def test_studies_size_is_the_stored_bytes(archive):
    s, files = archive
    assert get(s, "studies/size").json() == {"size": sum(len(f.data) for f in files)}
    peter = [f for f in files if f.get("PatientID") == "98890234"]
    assert get(s, "studies/size", PatientID="98890234").json() == {"size": sum(len(f.data) for f in peter)}


def test_default_and_maximum_limit_with_warning(archive):
    s, files = archive
    r = get(s, "instances")
    assert len(r.json()) == DEFAULT_LIMIT
    assert f"There are {len(files) - DEFAULT_LIMIT} additional results" in r.headers["Warning"]
    r = get(s, "instances", limit=1000)
    assert len(r.json()) == MAX_LIMIT
    assert r.headers["Warning"].startswith("299 ")
    r = get(s, "instances", limit=5, offset=3)
    assert len(r.json()) == 5 and "Warning" not in r.headers
    r = get(s, "instances", offset=len(files))
    assert r.json() == []


def test_orderby_with_stable_pages(archive):
    s, files = archive
    when, first = {}, {}
    for i, f in enumerate(files):
        when[f.ds.StudyInstanceUID] = (f.get("StudyDate"), f.get("StudyTime"))
        first.setdefault(f.ds.StudyInstanceUID, i)
    # equal values keep the order studies were stored in
    dated = sorted((d, t, first[u], u) for u, (d, t) in when.items() if d)
    dated = [(d, t, u) for d, t, _, u in dated]
    got = [values(d, "0020000D")[0] for d in get(s, "studies", orderby="StudyDate,StudyTime", limit=100).json()]
    assert got[: len(dated)] == [u for _, _, u in dated]
    assert sorted(got[len(dated):]) == sorted(u for u, (d, _) in when.items() if not d)
    got = [values(d, "0020000D")[0] for d in get(s, "studies", orderby="-StudyDate,-StudyTime", limit=100).json()]
    descending = sorted(((d, t, -first[u], u) for d, t, u in dated), reverse=True)
    assert got[len(when) - len(dated):] == [u for _, _, _, u in descending]
    # pages of 4 put together are the whole ordered answer
    full = [values(d, "00080018")[0] for d in get(s, "instances", orderby="-InstanceNumber,SOPInstanceUID", limit=30).json()]
    pages = []
    for offset in range(0, 30, 4):
        pages += [values(d, "00080018")[0] for d in get(s, "instances", orderby="-InstanceNumber,SOPInstanceUID", limit=min(4, 30 - offset), offset=offset).json()]
    assert pages == full
    # descending: instances without a number first (then by SOP Instance UID), then the numbers
    missing = sorted(f.ds.SOPInstanceUID for f in files if f.get("InstanceNumber") == "")
    numbers = sorted((-int(f.get("InstanceNumber")), f.ds.SOPInstanceUID) for f in files if f.get("InstanceNumber") != "")
    assert full == (missing + [u for _, u in numbers])[:30]


def test_person_names_by_group_and_component(archive):
    s, files = archive

    def family(f, i=0):
        g = groups(f)
        return g[i].split("^")[0].lower() if len(g) > i else None

    assert study_uids(s, PatientName="doe") == studies_of(files, lambda f: family(f) == "doe")
    assert study_uids(s, PatientName="DOE^PETER") == studies_of(files, lambda f: groups(f)[:1] == ["Doe^Peter"])
    assert study_uids(s, PatientName="^archibald") == studies_of(files, lambda f: groups(f)[:1] == ["Doe^Archibald"])
    assert study_uids(s, PatientName="d?e^p*") == study_uids(s, PatientName="Doe^Peter")
    assert study_uids(s, PatientName="Peter") == []
    # a wildcard value without `^` also matches the whole group ("contains", as viewers send)
    def any_group(pred):
        return studies_of(files, lambda f: any(pred(g.lower()) for g in groups(f)))
    assert study_uids(s, PatientName="*peter*") == any_group(lambda g: "peter" in g)
    assert study_uids(s, PatientName="*peter*") == study_uids(s, PatientName="Doe^Peter")
    assert study_uids(s, PatientName="*RÔME") == any_group(lambda g: g.rstrip("^").endswith("rôme"))
    assert study_uids(s, PatientName="*RÔME") != []
    assert study_uids(s, PatientName="*太郎") == any_group(lambda g: g.rstrip("^").endswith("太郎"))
    # ideographic and phonetic groups, alone or in place
    yamada = studies_of(files, lambda f: family(f, 1) == "山田")
    assert len(yamada) == 2
    assert study_uids(s, PatientName="山田^太郎") == yamada
    assert study_uids(s, PatientName="=山田") == yamada
    assert study_uids(s, PatientName="==やまだ") == yamada
    assert study_uids(s, PatientName="やまだ^たろう") == studies_of(files, lambda f: any(g == "やまだ^たろう" for g in groups(f)))
    assert study_uids(s, PatientName="홍^길동") == studies_of(files, lambda f: "홍^길동" in groups(f))
    assert study_uids(s, PatientName="김희중") == studies_of(files, lambda f: "김희중" in groups(f))
    assert study_uids(s, PatientName="buc^JÉRÔME") == studies_of(files, lambda f: groups(f)[:1] == ["Buc^Jérôme"])
    # every other VR is case-sensitive
    assert study_uids(s, StudyDescription="Brain") == studies_of(files, lambda f: f.get("StudyDescription") == "Brain")
    assert study_uids(s, StudyDescription="brain") == []
    assert study_uids(s, StudyDescription="*MRA") == studies_of(files, lambda f: str(f.get("StudyDescription")).endswith("MRA"))


def test_fuzzy_matching_folds_case_and_accents(archive):
    s, files = archive
    assert study_uids(s, PatientName="jerome", fuzzymatching="true") == studies_of(files, lambda f: groups(f)[:1] == ["Buc^Jérôme"])
    assert study_uids(s, PatientName="rudi", fuzzymatching="true") == studies_of(files, lambda f: groups(f)[:1] == ["Äneas^Rüdiger"])
    assert study_uids(s, PatientName="pet", fuzzymatching="true") == study_uids(s, PatientName="Doe^Peter")
    assert study_uids(s, PatientName="jerome") == []


def test_empty_value_matching(archive):
    s, files = archive
    empty_desc = studies_of(files, lambda f: not str(f.get("StudyDescription")).strip())
    assert empty_desc and study_uids(s, StudyDescription='""') == empty_desc
    no_ref = studies_of(files, lambda f: not str(f.get("ReferringPhysicianName")).strip("^ "))
    assert study_uids(s, ReferringPhysicianName='""') == no_ref
    with_request = {f.ds.SeriesInstanceUID for f in files if "RequestAttributesSequence" in f.ds}
    n = get(s, "series/count", RequestAttributesSequence='""').json()["count"]
    assert n == len({f.ds.SeriesInstanceUID for f in files}) - len(with_request)


def test_dates_and_combined_date_time(archive):
    s, files = archive
    assert study_uids(s, StudyDate="20030505") == studies_of(files, lambda f: f.get("StudyDate") == "20030505")
    assert study_uids(s, StudyDate="20010101-20030505") == studies_of(files, lambda f: "20010101" <= f.get("StudyDate") <= "20030505" and f.get("StudyDate"))
    assert study_uids(s, StudyDate="-19991231") == studies_of(files, lambda f: f.get("StudyDate") and f.get("StudyDate") <= "19991231")

    def instant(f):
        d, t = f.get("StudyDate"), f.get("StudyTime") or "000000"
        return datetime.datetime.strptime(d + t[:6].ljust(6, "0"), "%Y%m%d%H%M%S") if d else None

    lo, hi = datetime.datetime(1995, 9, 3, 17, 0), datetime.datetime(2003, 5, 5, 3, 0, 59)
    want = studies_of(files, lambda f: instant(f) is not None and lo <= instant(f) <= hi)
    assert study_uids(s, StudyDate="19950903-20030505", StudyTime="1700-0300") == want
    # independent matching would have dropped 2001-01-01 00:00 and kept nothing before 17:00
    assert any(when.startswith("20010101") for when in (f.get("StudyDate") for f in files if f.ds.StudyInstanceUID in want))


def test_uid_lists_and_sequences(archive):
    s, files = archive
    a, b = sorted({f.ds.StudyInstanceUID for f in files})[:2]
    assert study_uids(s, StudyInstanceUID=f"{a},{b}") == [a, b]
    assert study_uids(s, StudyInstanceUID=f"{a}\\{b}") == [a, b]
    (f,) = [f for f in files if "RequestAttributesSequence" in f.ds]
    docs = get(s, "series", **{"RequestAttributesSequence.ScheduledProcedureStepID": "SPS-42"}).json()
    assert [values(d, "0020000E")[0] for d in docs] == [f.ds.SeriesInstanceUID]
    item = values(docs[0], "00400275")[0]
    assert values(item, "00401001") == ["RP-7"]
    docs = get(s, "instances", **{"00400275.00401001": "RP-?"}).json()
    assert [values(d, "00080018")[0] for d in docs] == [f.ds.SOPInstanceUID]


def test_return_keys_of_each_level(archive):
    s, files = archive
    f = next(f for f in files if f.get("PatientID") == "98890234")
    (st,) = get(s, "studies", StudyInstanceUID=f.ds.StudyInstanceUID).json()
    for tag, kw in [("00080020", "StudyDate"), ("00080030", "StudyTime"), ("00100020", "PatientID"), ("0020000D", "StudyInstanceUID"), ("00200010", "StudyID")]:
        assert values(st, tag) == ([f.get(kw)] if f.get(kw) else []), kw
    for tag in ["00080005", "00080050", "00080056", "00080061", "00080090", "00100010", "00100030", "00100040", "00201206", "00201208", "00081190"]:
        assert tag in st, tag
    (se,) = get(s, "series", SeriesInstanceUID=f.ds.SeriesInstanceUID).json()
    assert values(se, "00080060") == [f.ds.Modality]
    assert values(se, "00200011") == [int(f.ds.SeriesNumber)]
    assert values(se, "00201209") == [sum(g.ds.SeriesInstanceUID == f.ds.SeriesInstanceUID for g in files)]
    assert values(se, "0020000D") == [f.ds.StudyInstanceUID]
    (i,) = get(s, "instances", SOPInstanceUID=f.ds.SOPInstanceUID).json()
    assert values(i, "00080016") == [f.ds.SOPClassUID]
    assert values(i, "00280010") == [f.ds.Rows] and values(i, "00280011") == [f.ds.Columns]
    assert values(i, "00200013") == [int(f.ds.InstanceNumber)]
    assert values(i, "00081190")[0].endswith(f"/instances/{f.ds.SOPInstanceUID}")
    # upper-level keys of a nested search are not repeated; includefield of a lower level is not returned
    (i,) = get(s, f"studies/{f.ds.StudyInstanceUID}/series/{f.ds.SeriesInstanceUID}/instances", SOPInstanceUID=f.ds.SOPInstanceUID).json()
    assert "00080020" not in i
    (st,) = get(s, "studies", StudyInstanceUID=f.ds.StudyInstanceUID, includefield="SOPInstanceUID,StudyDescription").json()
    assert "00080018" not in st and "00081030" in st
    assert values(st, "00081030") == ([f.ds.StudyDescription] if f.ds.StudyDescription else [])


def test_every_character_set_as_stored_and_as_json(archive):
    s, files = archive
    for f in files:
        if not f.name.startswith("chr"):
            continue
        (doc,) = get(s, "instances", SOPInstanceUID=f.ds.SOPInstanceUID, includefield="all").json()
        pn = f.ds.get("PatientName")
        if pn is not None:
            want = dict(zip(["Alphabetic", "Ideographic", "Phonetic"], [str(g) for g in pn.components]))
            want = {k: v for k, v in want.items() if v}
            assert values(doc, "00100010") == [want], f.name
        if f.ds.get("OperatorsName"):
            assert values(doc, "00081070") == [{"Alphabetic": str(f.ds.OperatorsName)}], f.name
        if f.ds.get("AdditionalPatientHistory"):
            assert values(doc, "001021B0") == [f.ds.AdditionalPatientHistory], f.name
        # the stored object is the one sent
        r = requests.get(values(doc, "00081190")[0], headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
        assert r.status_code == 200
        ((_, body),) = parse_multipart(r)
        assert body == f.data, f.name
    # a sequence item with character sets of its own, in the metadata
    for f in (f for f in files if f.name.startswith("chrSQEncoding")):
        meta = get(s, f"studies/{f.ds.StudyInstanceUID}/metadata").json()
        item = values(meta[0], "00321064")[0]
        name = f.ds.RequestedProcedureCodeSequence[0].PatientName
        assert values(item, "00100010") == [dict(zip(["Alphabetic", "Ideographic", "Phonetic"], [str(g) for g in name.components]))], f.name


def test_csv_answers(archive):
    s, files = archive
    by_study = {f.ds.StudyInstanceUID: f for f in files}
    for accept, delimiter in [({"headers": {"Accept": "text/csv"}}, ","), ({"params": {"accept": "text/csv; delimiter=semicolon"}}, ";")]:
        params = {"limit": 1000, **accept.get("params", {})}
        r = requests.get(f"{s.base}/studies", params=params, headers=accept.get("headers", {}))
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8")), delimiter=delimiter))
        assert len(rows) == len(by_study)
        assert r.content.decode().splitlines()[0].startswith('"')
        for row in rows:
            f = by_study[row["StudyInstanceUID"]]
            assert row["PatientName"] == str(f.ds.get("PatientName", "")).rstrip("="), f.name
            assert row["RetrieveURL"].endswith(f"/studies/{row['StudyInstanceUID']}")
            assert "RequestAttributesSequence" not in row
    r = requests.get(f"{s.base}/series", params={"StudyInstanceUID": "9.9.9"}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.text.count("\n") == 1 and '"SeriesInstanceUID"' in r.text


def test_xml_answers(archive):
    s, files = archive
    f = next(f for f in files if f.name == "chrH31.dcm")
    r = requests.get(f"{s.base}/studies", params={"PatientName": "yamada"}, headers={"Accept": 'multipart/related; type="application/dicom+xml"'})
    assert r.status_code == 200 and 'application/dicom+xml' in r.headers["Content-Type"]
    parts = parse_multipart(r)
    assert len(parts) == len(study_uids(s, PatientName="yamada"))
    docs = {}
    for headers, body in parts:
        assert headers["content-type"] == "application/dicom+xml"
        root = ET.fromstring(body)
        uid = root.find(f"{NS}DicomAttribute[@keyword='StudyInstanceUID']/{NS}Value").text
        docs[uid] = root
    root = docs[f.ds.StudyInstanceUID]
    pn = root.find(f"{NS}DicomAttribute[@tag='00100010']/{NS}PersonName")
    ideographic = str(f.ds.PatientName.components[1]).split("^")
    assert pn.find(f"{NS}Ideographic/{NS}FamilyName").text == ideographic[0]
    assert pn.find(f"{NS}Ideographic/{NS}GivenName").text == ideographic[1]


def test_bad_requests_name_the_reason(archive):
    s, files = archive
    for params, word in [
        ({"NoSuchAttribute": "x"}, "NoSuchAttribute"),
        ({"StudyDate": "2024-13"}, "StudyDate"),
        ({"StudyDate": "20240101*"}, "StudyDate"),
        ({"StudyDate": "20200230"}, "StudyDate"),
        ({"StudyDate": "20210229-20210301"}, "StudyDate"),
        ({"SeriesNumber": "one"}, "SeriesNumber"),
        ({"PatientName": "a=b=c=d"}, "PatientName"),
        ({"orderby": "NoSuchAttribute"}, "orderby"),
        ({"limit": "-1"}, "limit"),
        ({"fuzzymatching": "maybe"}, "fuzzymatching"),
        ({"SOPInstanceUID": "1.2"}, "SOPInstanceUID"),
    ]:
        r = requests.get(f"{s.base}/studies", params=params)
        assert r.status_code == 400, (params, r.status_code)
        assert word in r.text, (params, r.text)
    # values that are not what their VR holds, control characters, broken encodings and one
    # attribute given twice are 400 with the key named, not searches that match nothing (or all)
    from urllib.parse import urlsplit
    import http.client
    host = urlsplit(s.url)
    for raw, word in [
        ("StudyInstanceUID=abc", "StudyInstanceUID"),
        ("PatientID=%00", "control characters"),
        ("PatientName=%1B%24B", "control characters"),
        ("PatientName=%FF%FE", "UTF-8"),
        ("PatientName=%ZZ", "percent-encoded"),
        ("PatientName=Doe%", "percent-encoded"),
        ("ModalitiesInStudy=CT&ModalitiesInStudy=MR", "already given"),
    ]:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        conn.request("GET", f"{urlsplit(s.base).path}/studies?{raw}")
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        assert r.status == 400 and word in body, (raw, r.status, body)
    assert requests.get(f"{s.base}/studies", params={"ModalitiesInStudy": "CT\\MR"}).status_code == 200
    # a study or series scope in the path that is not a UID, likewise
    study = files[0].ds.StudyInstanceUID
    for path, word in [("studies/abc/series", "Study Instance UID"), ("studies/1..2/instances", "Study Instance UID"),
                       (f"studies/{study}/series/x/instances", "Series Instance UID")]:
        r = requests.get(f"{s.base}/{path}")
        assert r.status_code == 400 and word in r.text and "PS3.5 9.1" in r.text, (path, r.text)
    r = requests.get(f"{s.base}/studies", headers={"Accept": "image/png"})
    assert r.status_code == 406 and "text/csv" in r.text and "application/dicom+json" in r.text
    r = requests.get(f"{s.base}/studies", params={"accept": "image/png"})
    assert r.status_code == 406
    assert requests.get(f"{s.url}/health").status_code == 200


def test_integer_values_includefield_names_and_huge_counts(archive):
    s, files = archive
    # PS3.5 6.2: an IS value is a whole number; 1.5 is a bad value (400), not one that matches
    # nothing, while a whole number in another spelling still matches
    numbered = [f for f in files if f.ds.get("SeriesNumber") not in (None, "")]
    n = int(numbered[0].ds.SeriesNumber)
    for bad in ["1.5", "1e3", f"{n}.5"]:
        r = requests.get(f"{s.base}/series", params={"SeriesNumber": bad})
        assert r.status_code == 400 and "SeriesNumber" in r.text and "integer" in r.text, (bad, r.text)
    want = sorted({f.ds.SeriesInstanceUID for f in files if f.ds.get("SeriesNumber") not in (None, "") and int(f.ds.SeriesNumber) == n})
    got = get(s, "series", SeriesNumber=f"+{n}", limit=1000).json()
    assert sorted(values(d, "0020000E")[0] for d in got) == want
    # includefield: a name that is neither a keyword nor a tag is 400, as in metadata; a DICOM
    # keyword the index does not hold is accepted with a Warning
    r = requests.get(f"{s.base}/studies", params={"includefield": "Nonsense"})
    assert r.status_code == 400 and "Nonsense" in r.text, r.text
    r = get(s, "studies", includefield="ImageComments", limit=1)
    assert "ImageComments" in r.headers.get("Warning", ""), r.headers
    # a limit beyond 64 bits is cut to the maximum like any large limit; such an offset is 400
    r = get(s, "instances", limit="99999999999999999999")
    assert len(r.json()) == MAX_LIMIT and r.headers["Warning"].startswith("299 ")
    r = requests.get(f"{s.base}/instances", params={"offset": "99999999999999999999"})
    assert r.status_code == 400 and "too large" in r.text, r.text


def test_accept_with_only_q_zero_is_not_acceptable(archive):
    s, _ = archive
    # RFC 9110 12.5.1: q=0 means "not acceptable"; no Accept or */* gets the JSON default
    for accept in ["application/dicom+json;q=0", "*/*;q=0", "garbage;;;==="]:
        r = requests.get(f"{s.base}/studies", params={"limit": 1}, headers={"Accept": accept})
        assert r.status_code == 406, (accept, r.status_code)
        assert f'"{accept}"' in r.text and "offered: application/dicom+json" in r.text, r.text
    for headers in [{}, {"Accept": "*/*"}]:
        r = requests.get(f"{s.base}/studies", params={"limit": 1}, headers=headers)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/dicom+json")
    # a type refused by name is not what a wildcard range gets (the most specific range decides)
    r = requests.get(f"{s.base}/studies", params={"limit": 1}, headers={"Accept": "application/dicom+json;q=0, */*;q=0.1"})
    assert r.status_code == 200 and 'type="application/dicom+xml"' in r.headers["Content-Type"], r.headers
