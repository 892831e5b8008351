"""STOW-RS in full: keyword=value coercion (recorded, projected, merged on retrieve while the
blob stays as received), Native DICOM Model (XML) answers, warning and failure codes."""
import hashlib
import io
import warnings
import xml.etree.ElementTree as ET

import pydicom
import requests

from conftest import FIXTURES, multipart, parse_multipart

NS = {"d": "http://dicom.nema.org/PS3.19/models/NativeDICOM"}
AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def read(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data))


def post(base, parts, query="", accept="application/dicom+json", study=None):
    ct, body = multipart(parts)
    url = f"{base}/studies" + (f"/{study}" if study else "") + (f"?{query}" if query else "")
    return requests.post(url, data=body, headers={"Content-Type": ct, "Accept": accept}, timeout=60)


def test_coercion_is_served_everywhere_while_the_blob_stays_as_received(server):
    data = (FIXTURES / "pydicom" / "CT_small.dcm").read_bytes()
    orig = read(data)
    r = post(server.base, [data], "PatientName=Coerced%5EName&InstitutionName=Coercion%20Hospital&PatientID=COERCED1")
    assert r.status_code == 202, r.text  # stored with warnings (PS3.18 Table 10.5.3-1)
    (ref,) = r.json()["00081199"]["Value"]
    assert ref["00081196"]["Value"] == [0xB000]
    assert "coerced" in r.headers["Warning"]
    # the blob is the bytes sent
    sha = hashlib.sha256(data).hexdigest()
    assert (server.data_dir / "objects" / "blobs" / "sha256" / sha[:2] / f"{sha}.dcm").read_bytes() == data
    # QIDO finds the coerced values, not the original ones
    found = requests.get(f"{server.base}/studies", params={"PatientName": "Coerced^Name"}).json()
    assert [x["0020000D"]["Value"][0] for x in found] == [orig.StudyInstanceUID]
    assert requests.get(f"{server.base}/studies", params={"PatientID": orig.PatientID}).json() == []
    # metadata and the instance carry them; everything else is the original
    inst = f"{server.base}/studies/{orig.StudyInstanceUID}/series/{orig.SeriesInstanceUID}/instances/{orig.SOPInstanceUID}"
    (meta,) = requests.get(f"{inst}/metadata").json()
    assert meta["00100010"]["Value"] == [{"Alphabetic": "Coerced^Name"}]
    assert meta["00080080"]["Value"] == ["Coercion Hospital"]
    for accept in (AS_STORED, None):
        r = requests.get(inst, headers={"Accept": accept} if accept else {})
        assert r.status_code == 200
        ((_, body),) = parse_multipart(r)
        got = read(body)
        assert str(got.PatientName) == "Coerced^Name" and got.PatientID == "COERCED1"
        assert got.InstitutionName == "Coercion Hospital"
        assert got.file_meta.TransferSyntaxUID == orig.file_meta.TransferSyntaxUID
        assert got.pixel_array.tolist() == orig.pixel_array.tolist()
        # what the coercion replaced is recorded in the object (PS3.3 C.12.1.1.9)
        (item,) = got.OriginalAttributesSequence
        assert item.ReasonForTheAttributeModification == "COERCE"
        assert item.ModifyingSystem and len(item.AttributeModificationDateTime) >= 14
        (prev,) = item.ModifiedAttributesSequence
        assert prev.PatientName == orig.PatientName and prev.PatientID == orig.PatientID
        assert prev.InstitutionName == orig.get("InstitutionName", "")
    assert meta["04000561"]["Value"][0]["04000550"]["Value"][0]["00100020"]["Value"] == [orig.PatientID]
    # the log decides: a rebuilt projection serves the same coerced values and ETags
    etag = requests.get(f"{inst}/metadata").headers["ETag"]
    server.stop()
    assert "reindexed" in server.run("reindex").stdout
    server.start()  # on a new port
    inst = inst.replace(inst.split("/aets/")[0], server.url)
    assert [x["0020000D"]["Value"][0] for x in requests.get(f"{server.base}/studies", params={"PatientID": "COERCED1"}).json()] == [orig.StudyInstanceUID]
    again = requests.get(f"{inst}/metadata")
    assert again.headers["ETag"] == etag and again.json()[0]["00100010"]["Value"] == [{"Alphabetic": "Coerced^Name"}]


def test_a_value_outside_the_stored_character_set_switches_to_utf8(server):
    data = (FIXTURES / "pydicom" / "MR_small.dcm").read_bytes()
    orig = read(data)
    assert orig.get("SpecificCharacterSet") in (None, "", "ISO_IR 100")
    name = "Ψυχή^Ærøskøbing"
    r = post(server.base, [data], "PatientName=" + requests.utils.quote(name))
    assert r.status_code == 202, r.text
    inst = f"{server.base}/studies/{orig.StudyInstanceUID}/series/{orig.SeriesInstanceUID}/instances/{orig.SOPInstanceUID}"
    ((_, body),) = parse_multipart(requests.get(inst, headers={"Accept": AS_STORED}))
    got = read(body)
    assert got.SpecificCharacterSet == "ISO_IR 192"
    assert str(got.PatientName) == name
    (meta,) = requests.get(f"{inst}/metadata").json()
    assert meta["00100010"]["Value"] == [{"Alphabetic": name}]


def test_bad_coercions_are_refused_before_anything_is_stored(server):
    data = (FIXTURES / "pydicom" / "CT_small.dcm").read_bytes()
    for q in ("NoSuchKeyword=1", "SOPInstanceUID=1.2.3", "Rows=many", "PixelData=x"):
        r = post(server.base, [data], q)
        assert r.status_code == 400, (q, r.text)
    # values are checked against the VR of the dictionary (PS3.5 6.2, Table 6.2-1)
    for q, why in [
        ("StudyDate=2020-13-45", "not a valid DA"),
        ("StudyDate=20230229", "not a valid DA"),  # no 29 February in 2023
        ("StudyTime=2460", "not a valid TM"),
        ("AcquisitionDateTime=20201301", "not a valid DT"),
        ("PatientAge=42", "not a valid AS"),
        ("SeriesNumber=1.5", "not a valid IS"),
        ("PatientWeight=heavy", "not a valid DS"),
        ("FrameOfReferenceUID=..%2Fx", "not a UID"),
        ("InstitutionName=" + "x" * 200, "at most 64"),
        ("StationName=" + "x" * 17, "at most 16"),
        ("PatientName=" + "x" * 65, "PN allows 64"),
    ]:
        r = post(server.base, [data], q)
        param = q.split("=")[0]
        assert r.status_code == 400 and f"query parameter {param}: " in r.text and why in r.text, (q, r.text)
    r = post(server.base, [data], "Nonsense=1")
    assert r.status_code == 400 and "query parameter Nonsense: not a DICOM keyword or tag" in r.text, r.text
    assert "bulk data" not in r.text
    assert requests.get(f"{server.base}/instances").json() == []
    # the longest values a VR allows, a leap day and a multi-valued code string pass
    ok = "StudyDate=20240229&InstitutionName=" + "x" * 64 + "&PatientAge=042Y&ImageType=DERIVED%5CSECONDARY"
    r = post(server.base, [data], ok)
    assert r.status_code == 202, r.text


def test_xml_answers_on_request_with_failure_reasons(server):
    good = (FIXTURES / "pydicom" / "CT_small.dcm").read_bytes()
    orig = read(good)
    r = post(server.base, [good, b"not dicom"], accept="application/dicom+xml")
    assert r.status_code == 202
    assert r.headers["Content-Type"].startswith("application/dicom+xml")
    root = ET.fromstring(r.content)
    assert root.tag == "{%s}NativeDicomModel" % NS["d"]
    ref = root.find("d:DicomAttribute[@keyword='ReferencedSOPSequence']/d:Item", NS)
    assert ref.find("d:DicomAttribute[@tag='00081155']/d:Value", NS).text == orig.SOPInstanceUID
    fail = root.find("d:DicomAttribute[@keyword='FailedSOPSequence']/d:Item", NS)
    assert fail.find("d:DicomAttribute[@tag='00081197']/d:Value", NS).text == str(0xC000)
    # the same bytes again: success, no change; another study addressed: C409
    r = post(server.base, [good])
    assert r.status_code == 200, r.text
    r = post(server.base, [good], study="1.2.3.4")
    assert r.status_code == 409
    assert r.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xC409]
    # a JSON-only Accept that the server cannot meet: 406 naming what is offered
    r = post(server.base, [good], accept="text/html")
    assert r.status_code == 406 and "application/dicom+xml" in r.text


def with_uids(data, **uids):
    """The object with some UIDs replaced, written as they are (pydicom would warn)."""
    ds = read(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, v in uids.items():
            setattr(ds, k, v)
        if "SOPInstanceUID" in uids and pydicom.uid.UID(uids["SOPInstanceUID"]).is_valid:
            ds.file_meta.MediaStorageSOPInstanceUID = uids["SOPInstanceUID"]
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_uids_that_are_no_uids_fail_their_part_alone(server):
    """PS3.5 9.1 (digits and dots, at most 64 characters): such a part fails with 0xC000 and
    a reason naming the attribute; the other parts store (PS3.18 10.5.3)."""
    data = (FIXTURES / "pydicom" / "CT_small.dcm").read_bytes()
    orig = read(data)
    bad = [
        with_uids(data, StudyInstanceUID="../../etc passwd", SOPInstanceUID="1.2.826.0.1.3680043.8.498.11"),
        with_uids(data, SeriesInstanceUID="1.2..3", SOPInstanceUID="1.2.826.0.1.3680043.8.498.12"),
        with_uids(data, StudyInstanceUID="1." * 40 + "1", SOPInstanceUID="1.2.826.0.1.3680043.8.498.13"),
    ]
    # leading zeros in a component break PS3.5 9.1 too, but real objects have them
    zeros = with_uids(data, SeriesInstanceUID="1.2.03.004", SOPInstanceUID="1.2.826.0.1.3680043.8.498.14")
    r = post(server.base, bad + [data, zeros])
    assert r.status_code == 202, r.text
    doc = r.json()
    assert [x["00081197"]["Value"] for x in doc["00081198"]["Value"]] == [[0xC000]] * 3
    # the failed items still name the instances (PS3.18 Table 10.5.3-3)
    assert [x["00081155"]["Value"] for x in doc["00081198"]["Value"]] == [
        [f"1.2.826.0.1.3680043.8.498.1{n}"] for n in (1, 2, 3)]
    assert all(x["00081150"]["Value"] == [orig.SOPClassUID] for x in doc["00081198"]["Value"])
    warning = r.headers["Warning"]
    assert warning.count("invalid StudyInstanceUID") == 2 and "invalid SeriesInstanceUID" in warning
    refs = [x["00081190"]["Value"][0] for x in doc["00081199"]["Value"]]
    assert refs[0].endswith(f"/studies/{orig.StudyInstanceUID}/series/{orig.SeriesInstanceUID}/instances/{orig.SOPInstanceUID}")
    assert refs[1].endswith(f"/series/1.2.03.004/instances/1.2.826.0.1.3680043.8.498.14")
    assert sorted(x["00080018"]["Value"][0] for x in requests.get(f"{server.base}/instances").json()) == sorted(
        [orig.SOPInstanceUID, "1.2.826.0.1.3680043.8.498.14"])
    # the study addressed in the path must be a UID too
    for study in ("1.2.x", "%2E%2E%2Fx", "1..2"):
        r = post(server.base, [data], study=study)
        assert r.status_code == 400 and "PS3.5 9.1" in r.text, (study, r.text)


def test_standard_attributes_written_as_un_come_back_typed(server):
    """explicit_VR-UN.dcm writes its standard attributes with VR UN; metadata gives them the
    dictionary VR and value, as pydicom reads them (PS3.5 6.2.2), and as QIDO does."""
    path = FIXTURES / "un" / "explicit_VR-UN.dcm"
    raw = pydicom.dcmread(path, stop_before_pixels=True)
    assert raw["SOPClassUID"].VR == "UI"  # pydicom itself replaces UN by the dictionary VR
    r = post(server.base, [path.read_bytes()])
    assert r.status_code == 200, r.text
    inst = f"{server.base}/studies/{raw.StudyInstanceUID}/series/{raw.SeriesInstanceUID}/instances/{raw.SOPInstanceUID}"
    (meta,) = requests.get(f"{inst}/metadata").json()
    for kw in ("SOPClassUID", "Modality", "ImageType", "StudyDate", "Rows", "PixelRepresentation", "InstanceNumber"):
        e = raw[kw]
        tag = f"{e.tag:08X}"
        want = [int(v) if e.VR in ("US", "IS") else str(v) for v in (e.value if e.VM > 1 else [e.value])]
        assert meta[tag] == {"vr": e.VR, "Value": want}, (kw, meta[tag])
    assert meta["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": str(raw.PatientName)}]}
    assert [float(x) for x in meta["00280030"]["Value"]] == [float(x) for x in raw.PixelSpacing]
    assert meta["00131010"]["vr"] == "UN"  # a private attribute keeps its unknown VR
    (found,) = requests.get(f"{server.base}/instances", params={"includefield": "Modality"}).json()
    assert found["00080016"] == meta["00080016"] and found["00080060"] == meta["00080060"]


def test_min_sequence_on_one_node(server):
    data = (FIXTURES / "pydicom" / "CT_small.dcm").read_bytes()
    r = post(server.base, [data])
    assert r.status_code == 200, r.text
    seq = int(r.headers["Arc-Sequence"])
    for name in ("header", "query"):
        kw = {"headers": {"Arc-Min-Sequence": str(seq)}} if name == "header" else {"params": {"min-sequence": seq}}
        assert requests.get(f"{server.base}/studies", **kw).status_code == 200
    # a position beyond the end of a log only this node writes can never come: 400 at once,
    # not a wait and a 503
    r = requests.get(f"{server.base}/studies", headers={"Arc-Min-Sequence": str(seq + 1000)}, timeout=30)
    assert r.status_code == 400 and "beyond the end" in r.text, r.text
    r = requests.get(f"{server.base}/studies", params={"min-sequence": "x"})
    assert r.status_code == 400


def test_a_truncated_object_fails_named_by_its_meta_information(server):
    data = (FIXTURES / "pydicom" / "CT_small.dcm").read_bytes()
    orig = read(data)
    r = post(server.base, [data[: len(data) // 2]])
    assert r.status_code == 409, r.text
    [item] = r.json()["00081198"]["Value"]
    assert item["00081197"]["Value"] == [0xC000]
    assert item["00081150"]["Value"] == [orig.SOPClassUID]
    assert item["00081155"]["Value"] == [orig.SOPInstanceUID]
    assert requests.get(f"{server.base}/instances").json() == []
