"""WADO-RS beyond the basics: Accept negotiation as clients send it, ETag/Last-Modified with
304s, CORS on every answer, metadata includefield/excludeprivate and XML, bulk data at every
level, ZIP downloads as stored and uncompressed."""
import io
import warnings
import xml.etree.ElementTree as ET
import zipfile

import pydicom
import pytest
import requests

from conftest import FIXTURES, Server, parse_multipart, stow

FILES = ["CT_small.dcm", "MR_small.dcm", "JPGExtended.dcm", "SC_rgb_rle.dcm"]
# A JPEG 2000 object made here whose frames are not JPEG 2000: nothing can decode them.
BROKEN = "broken_j2k"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
ORIGIN = {"Origin": "http://viewer.example"}


def read(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data) if isinstance(data, bytes) else data)


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("wado") / "data").start()
    files = {name: (FIXTURES / "pydicom" / name).read_bytes() for name in FILES}
    files[BROKEN] = broken_j2k()
    r = stow(s.base, list(files.values()))
    assert r.status_code == 200, r.text
    yield s, {name: (data, read(data)) for name, data in files.items()}
    s.kill()


def broken_j2k():
    """emri_small_jpeg_2k_lossless.dcm with every frame replaced by bytes that are no JPEG 2000
    codestream, under new UIDs: a well-formed object whose pixels cannot be decoded."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import generate_uid
    ds = read(FIXTURES / "pixels" / "emri_small_jpeg_2k_lossless.dcm")
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(60) for _ in range(int(ds.NumberOfFrames))])
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def undecodable(ds):
    """The BROKEN object: its frames are not JPEG 2000 codestreams."""
    return ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.90" and len(ds.PixelData) < 1000


def url(s, ds, level="instance"):
    u = f"{s.base}/studies/{ds.StudyInstanceUID}"
    if level in ("series", "instance"):
        u += f"/series/{ds.SeriesInstanceUID}"
    if level == "instance":
        u += f"/instances/{ds.SOPInstanceUID}"
    return u


def test_negotiation_as_clients_send_it(held):
    s, files = held
    data, ds = files["CT_small.dcm"]
    u = url(s, ds)
    cases = {
        'multipart/related; type="application/dicom"; transfer-syntax=*': ds.file_meta.TransferSyntaxUID,
        "multipart/related;type=application/dicom;transfer-syntax=*": ds.file_meta.TransferSyntaxUID,
        'multipart/related; type="application/dicom"; transfer-syntax="*"': ds.file_meta.TransferSyntaxUID,
        "multipart/related; type=application/dicom; transfer-syntax=*; transfer-syntax=*": ds.file_meta.TransferSyntaxUID,
        "application/json, multipart/related; type=application/dicom;q=0.9": EXPLICIT_LE,
        "*/*": EXPLICIT_LE,
        f"image/png;q=0.8, multipart/related; type=application/dicom; transfer-syntax={EXPLICIT_LE}": EXPLICIT_LE,
    }
    for accept, ts in cases.items():
        r = requests.get(u, headers={"Accept": accept})
        assert r.status_code == 200, (accept, r.text)
        ((h, body),) = parse_multipart(r)
        assert f"transfer-syntax={ts}" in h["content-type"], accept
        assert read(body).SOPInstanceUID == ds.SOPInstanceUID
    # the accept query parameter wins over the header, comma-separated
    r = requests.get(u, params={"accept": "image/png,multipart/related;type=\"application/dicom\";transfer-syntax=*"}, headers={"Accept": "text/html"})
    assert r.status_code == 200 and parse_multipart(r)[0][1] == data
    # q-values choose between multipart and zip
    r = requests.get(u, headers={"Accept": 'multipart/related; type="application/dicom"; q=0.2, application/zip; q=0.8'})
    assert r.headers["Content-Type"] == "application/zip"
    # 406 names what is offered, with CORS like every answer
    r = requests.get(u, headers={"Accept": "text/html, image/png;q=0.5", **ORIGIN})
    assert r.status_code == 406
    assert "text/html" in r.text and 'multipart/related; type="application/dicom"' in r.text and "application/zip" in r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = requests.get(f"{u}/metadata", headers={"Accept": "image/jpeg"})
    assert r.status_code == 406 and "application/dicom+json" in r.text


def test_conditional_gets_answer_304_with_cors(held):
    s, files = held
    _, ds = files["MR_small.dcm"]
    for target in (url(s, ds, "study"), url(s, ds, "series"), url(s, ds), url(s, ds) + "/metadata", url(s, ds, "study") + "/metadata"):
        r = requests.get(target, headers={"Accept": "*/*"})
        assert r.status_code == 200, target
        etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
        r2 = requests.get(target, headers={"Accept": "*/*", "If-None-Match": etag, **ORIGIN})
        assert r2.status_code == 304 and r2.content == b"", target
        assert r2.headers["ETag"] == etag and r2.headers["Access-Control-Allow-Origin"] == "*"
        assert "etag" in r2.headers.get("Access-Control-Expose-Headers", "").lower()
        assert requests.get(target, headers={"Accept": "*/*", "If-Modified-Since": modified}).status_code == 304
        assert requests.get(target, headers={"Accept": "*/*", "If-None-Match": '"0-0"'}).status_code == 200
        assert requests.get(target, headers={"Accept": "*/*", "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    # another representation, another ETag
    a = requests.get(url(s, ds), headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}).headers["ETag"]
    b = requests.get(url(s, ds)).headers["ETag"]
    assert a != b
    # errors carry CORS too
    r = requests.get(f"{s.base}/studies/1.2.3/metadata", headers=ORIGIN)
    assert r.status_code == 404 and r.headers["Access-Control-Allow-Origin"] == "*"


def test_conditional_gets_of_frames_rendered_and_thumbnails(held):
    s, files = held
    _, ds = files["CT_small.dcm"]
    targets = [url(s, ds) + "/frames/1", url(s, ds) + "/frames/1/rendered", url(s, ds) + "/frames/1/thumbnail"]
    for level in ("study", "series", "instance"):
        targets += [url(s, ds, level) + "/rendered", url(s, ds, level) + "/thumbnail"]
    for target in targets:
        r = requests.get(target)
        assert r.status_code == 200, (target, r.text)
        etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
        r2 = requests.get(target, headers={"If-None-Match": etag, **ORIGIN})
        assert r2.status_code == 304 and r2.content == b"", target
        assert r2.headers["ETag"] == etag and r2.headers["Access-Control-Allow-Origin"] == "*"
        assert requests.get(target, headers={"If-Modified-Since": modified}).status_code == 304, target
        assert requests.get(target, headers={"If-None-Match": '"0-0"'}).status_code == 200, target
        # the same request again is the same representation
        assert requests.get(target).headers["ETag"] == etag, target
    # another window, another format, another frame: another ETag
    inst = url(s, ds)
    etags = {
        requests.get(inst + "/rendered").headers["ETag"],
        requests.get(inst + "/rendered", params={"window": "40,400,linear"}).headers["ETag"],
        requests.get(inst + "/rendered", headers={"Accept": "image/png"}).headers["ETag"],
        requests.get(inst + "/thumbnail").headers["ETag"],
    }
    assert len(etags) == 4, etags
    # an error answer carries no validators
    r = requests.get(inst + "/frames/2")
    assert r.status_code == 404 and "ETag" not in r.headers


def test_metadata_includefield_excludeprivate_and_xml(held):
    s, files = held
    _, ds = files["CT_small.dcm"]
    (full,) = requests.get(url(s, ds) + "/metadata").json()
    assert any(int(k[:4], 16) % 2 for k in full), "CT_small has private attributes"
    (some,) = requests.get(url(s, ds) + "/metadata", params={"includefield": "PatientName,Modality"}).json()
    assert set(some) == {"00100010", "00080060", "0020000D", "0020000E", "00080018", "00080016"}
    assert some["00100010"] == full["00100010"]
    (pub,) = requests.get(url(s, ds) + "/metadata", params={"excludeprivate": "true"}).json()
    assert not any(int(k[:4], 16) % 2 for k in pub)
    assert set(pub) == {k for k in full if int(k[:4], 16) % 2 == 0}
    assert requests.get(url(s, ds) + "/metadata", params={"includefield": "Bogus"}).status_code == 400
    r = requests.get(url(s, ds, "series") + "/metadata", headers={"Accept": 'multipart/related; type="application/dicom+xml"'})
    assert r.status_code == 200 and 'type="application/dicom+xml"' in r.headers["Content-Type"]
    ((h, body),) = parse_multipart(r)
    root = ET.fromstring(body)
    ns = {"d": "http://dicom.nema.org/PS3.19/models/NativeDICOM"}
    assert root.find("d:DicomAttribute[@keyword='SOPInstanceUID']/d:Value", ns).text == ds.SOPInstanceUID
    fam = root.find("d:DicomAttribute[@keyword='PatientName']/d:PersonName/d:Alphabetic/d:FamilyName", ns)
    assert fam.text == str(ds.PatientName).split("^")[0]
    assert root.find("d:DicomAttribute[@keyword='PixelData']/d:BulkData", ns).get("uri").endswith("/bulkdata/7FE00010")


def test_bulkdata_at_every_level(held):
    s, files = held
    _, ct = files["CT_small.dcm"]
    _, jpeg = files["JPGExtended.dcm"]
    _, broken = files[BROKEN]
    r = requests.get(url(s, ct) + "/bulkdata")
    assert r.status_code == 200
    parts = parse_multipart(r)
    pixel = [b for h, b in parts if h["content-location"].endswith("/bulkdata/7FE00010")]
    assert pixel == [ct.PixelData]
    assert all(h["content-type"] == "application/octet-stream" for h, _ in parts)
    # a study: every instance's bulk data; compressed pixel data in its own type when accepted
    study = parse_multipart(requests.get(url(s, ct, "study") + "/bulkdata"))
    assert len(study) >= len(parts)
    r = requests.get(url(s, jpeg, "series") + "/bulkdata", headers={"Accept": 'multipart/related; type="image/jpeg"'})
    assert r.status_code == 200
    frames = [(h, b) for h, b in parse_multipart(r) if h["content-type"].startswith("image/jpeg")]
    assert frames and frames[0][1].startswith(b"\xff\xd8")
    from pydicom.encaps import generate_frames
    assert [b for _, b in frames] == list(generate_frames(jpeg.PixelData, number_of_frames=int(jpeg.get("NumberOfFrames", 1))))
    octet = parse_multipart(requests.get(url(s, jpeg) + "/bulkdata", headers={"Accept": 'multipart/related; type="application/octet-stream"'}))
    assert all(h["content-type"] == "application/octet-stream" for h, _ in octet)
    # compressed pixel data asked for as application/octet-stream: decompressed (PS3.18
    # 8.7.3.3.2), the samples pydicom decodes; 406 when it cannot be decoded
    _, rle = files["SC_rgb_rle.dcm"]
    octet = {"Accept": 'multipart/related; type="application/octet-stream"'}
    for target in (url(s, rle) + "/bulkdata/7FE00010", url(s, rle) + "/bulkdata"):
        r = requests.get(target, headers=octet)
        assert r.status_code == 200, r.text
        (pixels,) = [b for h, b in parse_multipart(r) if h["content-location"].endswith("/bulkdata/7FE00010")]
        assert pixels == rle.pixel_array.tobytes()
    # 12-bit JPEG extended too (arcstream's own decoder), within 1 of libjpeg's samples
    r = requests.get(url(s, jpeg) + "/bulkdata/7FE00010", headers=octet)
    assert r.status_code == 200, r.text
    (pixels,) = [b for h, b in parse_multipart(r) if h["content-location"].endswith("/bulkdata/7FE00010")]
    import numpy as np
    got = np.frombuffer(pixels, dtype="<u2").astype(int)
    assert np.abs(got - jpeg.pixel_array.astype(int).ravel()).max() <= 1
    r = requests.get(url(s, broken) + "/bulkdata/7FE00010", headers=octet)
    assert undecodable(broken) and r.status_code == 406 and 'type="image/jp2"' in r.text, r.text


def test_zip_as_stored_and_uncompressed(held):
    s, files = held
    _, ds = files["CT_small.dcm"]
    by_sop = {d.SOPInstanceUID: (data, d) for data, d in files.values()}
    # as stored (the default of application/zip): every file, byte for byte, named by UIDs
    r = requests.get(url(s, ds, "study"), headers={"Accept": "application/zip"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert z.testzip() is None
    names = z.namelist()
    assert names and all(n == f"{ds.StudyInstanceUID}/{by_sop[n.split('/')[2][:-4]][1].SeriesInstanceUID}/{n.split('/')[2]}" for n in names)
    for n in names:
        data, _ = by_sop[n.split("/")[2][:-4]]
        assert z.read(n) == data
    # uncompressed: Explicit VR Little Endian, compressed instances decompressed; one that
    # cannot be decoded (a cut-short bitstream) answers 406 naming transfer-syntax=*
    for d_data, d in files.values():
        r = requests.get(url(s, d, "series"), headers={"Accept": f"application/zip; transfer-syntax={EXPLICIT_LE}"})
        if undecodable(d):
            assert r.status_code == 406 and "transfer-syntax=*" in r.text, r.status_code
            continue
        assert r.status_code == 200, r.text
        z = zipfile.ZipFile(io.BytesIO(r.content))
        (name,) = z.namelist()
        got = read(z.read(name))
        assert got.file_meta.TransferSyntaxUID == EXPLICIT_LE
        # lossless decoders agree exactly; lossy JPEG within 1 of libjpeg's samples
        tolerance = 1 if d.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.51" else 0
        diff = got.pixel_array.astype(int) - d.pixel_array.astype(int)
        assert abs(diff).max() <= tolerance


def test_q_zero_alone_is_not_acceptable_on_every_resource(held):
    s, files = held
    _, ds = files["CT_small.dcm"]
    u = url(s, ds)
    # RFC 9110 12.5.1: a range with q=0 is "not acceptable"; each resource reads Accept alike
    for path, accept in [
        ("", 'multipart/related; type="application/dicom"; q=0'),
        ("/metadata", "application/dicom+json;q=0"),
        ("/bulkdata", "multipart/related; type=application/octet-stream; q=0"),
        ("/frames/1", "multipart/related; type=application/octet-stream;q=0"),
        ("/rendered", "image/jpeg; q=0"),
        ("/thumbnail", "image/jpeg; q=0"),
        ("", "*/*;q=0"),
        ("/rendered", "*/*;q=0"),
        ("/metadata", "garbage;;;==="),
        ("/rendered", "garbage;;;==="),
    ]:
        r = requests.get(u + path, headers={"Accept": accept, **ORIGIN})
        assert r.status_code == 406, (path, accept, r.status_code)
        assert f'"{accept}"' in r.text and "offered: " in r.text, r.text
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    # no Accept, or */*, gets each resource's default
    for path in ["", "/metadata", "/bulkdata", "/frames/1", "/rendered"]:
        for headers in [{}, {"Accept": "*/*"}]:
            assert requests.get(u + path, headers=headers).status_code == 200, (path, headers)


def test_compressing_on_retrieve_is_refused_with_what_can_be_sent(held):
    s, files = held
    _, ds = files["CT_small.dcm"]
    stored = ds.file_meta.TransferSyntaxUID
    assert stored == EXPLICIT_LE  # the case of the report: an uncompressed object
    jpeg = "1.2.840.10008.1.2.4.50"
    for level in ["instance", "series", "study"]:
        r = requests.get(url(s, ds, level), headers={"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={jpeg}'})
        assert r.status_code == 406, (level, r.status_code)
        assert "does not compress" in r.text and "cannot decode" not in r.text, r.text
        assert f"stored in {stored}" in r.text and f"offered: transfer-syntax=* (as stored), {EXPLICIT_LE}" in r.text, r.text
    # WADO-URI says the same with its parameter's name
    r = requests.get(f"{s.url}/aets/ARCSTREAM/wado", params={
        "requestType": "WADO", "studyUID": ds.StudyInstanceUID, "seriesUID": ds.SeriesInstanceUID,
        "objectUID": ds.SOPInstanceUID, "contentType": "application/dicom", "transferSyntax": jpeg})
    assert r.status_code == 406 and "does not compress" in r.text and "transferSyntax=*" in r.text, r.text


def test_retrieve_in_implicit_vr_little_endian(held):
    s, files = held
    data, ds = files["CT_small.dcm"]
    implicit = "1.2.840.10008.1.2"
    for level in ["instance", "series", "study"]:
        r = requests.get(url(s, ds, level), headers={"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={implicit}'})
        assert r.status_code == 200, (level, r.text)
        for h, body in parse_multipart(r):
            assert f"transfer-syntax={implicit}" in h["content-type"], h
            got = read(body)
            assert got.file_meta.TransferSyntaxUID == implicit
            if got.SOPInstanceUID == ds.SOPInstanceUID:
                assert got.PixelData == ds.PixelData and got.PatientName == ds.PatientName
    # a syntax neither stored nor made here: the reason says what is made, not "compress"
    big = "1.2.840.10008.1.2.2"
    r = requests.get(url(s, ds), headers={"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={big}'})
    assert r.status_code == 406 and "converts on retrieve only to" in r.text and "compress" not in r.text, r.text
    assert f"{EXPLICIT_LE}, {implicit}" in r.text, r.text


def test_head_claims_no_length_the_get_does_not_send(held):
    s, files = held
    _, ds = files["CT_small.dcm"]
    dicom = {"Accept": 'multipart/related; type="application/dicom"'}
    for u, headers in [
        (url(s, ds, "instance"), dicom),
        (url(s, ds, "series"), dicom),
        (url(s, ds, "study"), dicom),
        (url(s, ds, "study"), {"Accept": "application/zip"}),
        (url(s, ds, "instance") + "/bulkdata", {}),
        (url(s, ds, "series") + "/bulkdata", {}),
        (url(s, ds, "instance") + "/metadata", {}),
        (url(s, ds, "instance") + "/frames/1", {}),
        (url(s, ds, "instance") + "/rendered", {}),
    ]:
        got = requests.get(u, headers=headers)
        head = requests.head(u, headers=headers)
        assert got.status_code == head.status_code == 200, (u, got.status_code, head.status_code)
        assert len(got.content) > 0
        # RFC 9110 9.3.2: a HEAD answer's Content-Length, when present, is the GET's
        if "Content-Length" in head.headers:
            assert int(head.headers["Content-Length"]) == len(got.content), (u, head.headers)
        if "Content-Length" not in got.headers:
            assert "Content-Length" not in head.headers, (u, head.headers)
        assert head.headers["Content-Type"].split(";")[0] == got.headers["Content-Type"].split(";")[0]


def test_errors_say_what_and_where(held):
    s, files = held
    _, ds = files["CT_small.dcm"]
    r = requests.get(f"{s.base}/studies/abc", headers=ORIGIN)
    assert r.status_code == 404 and r.text.strip() == "study abc not found", r.text
    r = requests.get(f"{url(s, ds, 'series')}/instances/1.2.3/metadata")
    assert r.status_code == 404
    assert r.text.strip() == f"instance 1.2.3 not found in series {ds.SeriesInstanceUID} of study {ds.StudyInstanceUID}"
    r = requests.get(f"{s.url}/aets/ARCSTREAM/wado", params={
        "requestType": "WADO", "studyUID": "1.2.3", "seriesUID": ds.SeriesInstanceUID,
        "objectUID": ds.SOPInstanceUID, "contentType": "application/dicom"})
    assert r.status_code == 404 and f"instance {ds.SOPInstanceUID} not found in series" in r.text and "study 1.2.3" in r.text, r.text
    r = requests.get(f"{s.url}/no/such/path")
    assert r.status_code == 404 and "/no/such/path" in r.text
    # what a request smuggles into a reason (CR LF, escape codes) comes back escaped, one line
    for target in (f"{s.base}/studies/1.2.3%0d%0aX-Injected:%201", f"{s.url}/no/such%0d%0apath%1b"):
        r = requests.get(target)
        assert r.status_code == 404 and r.text.count("\n") == 1 and "\r" not in r.text, repr(r.text)
        assert "\\r\\n" in r.text or "%0D%0A" in r.text, repr(r.text)
    # 405 has a reason and CORS like every answer; Allow lists what is served
    r = requests.delete(f"{s.base}/studies", headers=ORIGIN)
    assert r.status_code == 405 and "DELETE" in r.text and "GET" in r.headers["Allow"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    # a path segment that cannot be read is a 400 with a reason and CORS
    r = requests.get(f"{s.base}/studies/%ff/metadata", headers=ORIGIN)
    assert r.status_code == 400 and r.text.strip() and r.headers["Access-Control-Allow-Origin"] == "*"
