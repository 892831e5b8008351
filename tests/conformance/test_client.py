"""dicomweb-client (a real DICOMweb client) against arcstream: STOW-RS, QIDO-RS at every level
with filters, includefield, limit/offset and fuzzy matching, WADO-RS of instances, series and
studies, metadata with bulk data, and WADO-URI. Retrieved objects are written to files, checked
with dciodvfy (no error the original file does not have) and compared with what was stored,
element by element, and byte for byte when asked for as stored; compressed objects retrieved
in Explicit VR Little Endian are compared with pydicom's decoding. Expected answers come from
the files (pydicom), never from arcstream."""
import fnmatch
import io
from collections import defaultdict

import numpy as np
import pydicom
import pytest
import requests
from pydicom.encaps import generate_frames

from conftest import encoded
from dicomtools import EXPLICIT_LE, compare_files, dciodvfy, differences, read, split_multipart, write

UNCOMPRESSED = {"1.2.840.10008.1.2", EXPLICIT_LE, "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
AS_STORED = (("application/dicom", "*"),)
# dicomweb-client asks for `transfer-syntax=*` unless told otherwise.
EXPLICIT = (("application/dicom", EXPLICIT_LE),)
DEFLATE = "1.2.840.10008.1.2.1.99"
# Lossy transfer syntaxes: JPEG baseline/extended, JPEG-LS near-lossless, JPEG 2000 (PS3.5 8.2)
LOSSY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91"}
# The media type of a compressed frame (PS3.18 Table 8.7.3-2), for the syntaxes of the corpus.
BITSTREAM = {"1.2.840.10008.1.2.4.91": "image/jp2", "1.2.840.10008.1.2.4.90": "image/jp2", "1.2.840.10008.1.2.5": "image/dicom-rle"}


def uids(results, tag):
    return {r[tag]["Value"][0] for r in results}


def by(corpus, key):
    out = defaultdict(list)
    for item in corpus:
        out[key(item)].append(item)
    return out


def test_stow_references_every_object(arc, corpus):
    referenced, failed = [], []
    for answer in arc.stored:
        referenced += [x.ReferencedSOPInstanceUID for x in answer.get("ReferencedSOPSequence", [])]
        failed += list(answer.get("FailedSOPSequence", []))
        for x in answer.get("ReferencedSOPSequence", []):
            assert x.RetrieveURL.startswith(arc.dicomweb + "/studies/"), x.RetrieveURL
    assert not failed
    assert sorted(referenced) == sorted(i.sop for i in corpus)


def test_qido_every_level(arc, corpus):
    c = arc.client
    studies = c.search_for_studies(limit=1000)
    assert uids(studies, "0020000D") == {i.study for i in corpus}
    per_study = by(corpus, lambda i: i.study)
    for s in studies:
        uid = s["0020000D"]["Value"][0]
        assert s["00201208"]["Value"] == [len(per_study[uid])], uid  # NumberOfStudyRelatedInstances
        assert s["00201206"]["Value"] == [len({i.series for i in per_study[uid]})], uid
    for study, items in per_study.items():
        series = c.search_for_series(study)
        assert uids(series, "0020000E") == {i.series for i in items}
        for se in {i.series for i in items}:
            inst = c.search_for_instances(study, se)
            assert uids(inst, "00080018") == {i.sop for i in items if i.series == se}
    assert uids(c.search_for_instances(limit=1000), "00080018") == {i.sop for i in corpus}
    assert uids(c.search_for_series(limit=1000), "0020000E") == {i.series for i in corpus}


def pn_match(pattern, value):
    return fnmatch.fnmatchcase(str(value or "").lower(), pattern.lower())


@pytest.mark.parametrize(
    "filters",
    [
        {"PatientID": "77654033"},
        {"PatientName": "Doe*"},
        {"ModalitiesInStudy": "CT"},
        {"StudyDate": "20010101-20041231"},
        {"AccessionNumber": "*"},
    ],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()),
)
def test_qido_study_filters(arc, corpus, filters):
    (key, value), = filters.items()

    def matches(item):
        ds = item.ds
        if key == "PatientID":
            return ds.get("PatientID") == value
        if key == "PatientName":
            return pn_match(value, ds.get("PatientName"))
        if key == "ModalitiesInStudy":
            return any(i.ds.get("Modality") == value for i in corpus if i.study == item.study)
        if key == "StudyDate":
            lo, hi = value.split("-")
            return lo <= str(ds.get("StudyDate") or "") <= hi and bool(ds.get("StudyDate"))
        if key == "AccessionNumber":
            return True  # `*` alone is universal matching (PS3.4 C.2.2.2.4)
        raise AssertionError(key)

    expected = {i.study for i in corpus if matches(i)}
    assert expected, filters
    found = arc.client.search_for_studies(search_filters=filters, limit=1000)
    assert uids(found, "0020000D") == expected


def test_qido_series_and_instance_filters(arc, corpus):
    c = arc.client
    assert uids(c.search_for_series(search_filters={"Modality": "MR"}, limit=1000), "0020000E") == {
        i.series for i in corpus if i.ds.get("Modality") == "MR"
    }
    ct_class = "1.2.840.10008.5.1.4.1.1.2"
    assert uids(c.search_for_instances(search_filters={"SOPClassUID": ct_class}, limit=1000), "00080018") == {
        i.sop for i in corpus if i.ds.SOPClassUID == ct_class
    }
    some = corpus[3]
    found = c.search_for_instances(search_filters={"SOPInstanceUID": some.sop})
    assert uids(found, "00080018") == {some.sop}


def test_qido_includefield(arc, corpus):
    c = arc.client
    studies = c.search_for_studies(fields=["StudyDescription", "00100030"], limit=1000)
    first = {}
    for i in corpus:
        first.setdefault(i.study, i.ds)
    for s in studies:
        ds = first[s["0020000D"]["Value"][0]]
        if ds.get("StudyDescription"):
            assert s["00081030"]["Value"] == [ds.StudyDescription]
        if ds.get("PatientBirthDate"):
            assert s["00100030"]["Value"] == [ds.PatientBirthDate]
    inst = c.search_for_instances(fields=["all"], search_filters={"Modality": "CT"}, limit=1000)
    assert inst
    by_sop = {i.sop: i.ds for i in corpus}
    for r in inst:
        ds = by_sop[r["00080018"]["Value"][0]]
        if ds.get("InstanceNumber") is not None:
            assert r["00200013"]["Value"] == [int(ds.InstanceNumber)]


def test_qido_limit_offset_pages(arc, corpus):
    c = arc.client
    seen = []
    for offset in range(0, 100, 4):
        page = c.search_for_instances(study_instance_uid=corpus[0].study, limit=4, offset=offset)
        if not page:
            break
        assert len(page) <= 4
        seen += [r["00080018"]["Value"][0] for r in page]
    assert len(seen) == len(set(seen))
    assert set(seen) == {i.sop for i in corpus if i.study == corpus[0].study}
    # dicomweb-client follows the Warning header until everything is read
    assert uids(c.search_for_instances(limit=7, get_remaining=True), "00080018") == {i.sop for i in corpus}


def test_qido_fuzzymatching(arc, corpus):
    expected = {i.study for i in corpus if "Jérôme" in str(i.ds.get("PatientName", ""))}
    assert expected
    found = arc.client.search_for_studies(fuzzymatching=True, search_filters={"PatientName": "jerome"})
    assert uids(found, "0020000D") == expected


def retrieved_part(peer):
    parts = split_multipart(peer.session.last.headers["Content-Type"], peer.session.last.content)
    assert len(parts) == 1
    return parts[0]


def to_explicit_le(ds):
    copy = pydicom.dcmread(io.BytesIO(encoded(ds)))
    copy.file_meta.TransferSyntaxUID = EXPLICIT_LE
    with io.BytesIO() as b:
        copy.save_as(b, implicit_vr=False, little_endian=True)
        return b.getvalue()


def check_retrieved(tmp_path, item, data, ts):
    """The retrieved object is the stored one: same elements and values, no new dciodvfy error."""
    ds = read(data)
    assert str(ds.file_meta.TransferSyntaxUID) == ts
    diff = compare_files(item.data, data)
    assert not diff, f"{item.name}: {diff[:5]}"
    reference = item.data
    if item.ts == DEFLATE:
        # dciodvfy cannot read deflated files: judge against pydicom's inflated copy
        reference = to_explicit_le(item.ds)
    original = dciodvfy(write(tmp_path, item.name + ".orig.dcm", reference))
    got = dciodvfy(write(tmp_path, item.name + ".got.dcm", data))
    assert got <= original, f"{item.name}: dciodvfy errors added: {sorted(got - original)}"


def check_decompressed(tmp_path, item, data):
    """A compressed object retrieved in Explicit VR Little Endian: pydicom's decoded pixels
    (within the rounding a lossy decoder may differ by), the other elements as stored apart
    from what decompression must change, and no dciodvfy error the stored file lacks."""
    ds = read(data)
    assert str(ds.file_meta.TransferSyntaxUID) == EXPLICIT_LE
    want = item.ds.pixel_array
    got = ds.pixel_array
    assert got.shape == want.shape, item.name
    if item.ts in LOSSY:
        # another decoder than pydicom's may round the inverse wavelet/DCT apart
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        assert diff.mean() < 1.0 and diff.max() <= 16, (item.name, diff.mean(), diff.max())
    else:
        assert (got == want).all(), item.name
    diff = differences(item.ds, ds, ignore=decompression_changes(item.ds))
    assert not diff, f"{item.name}: {diff[:5]}"
    original = dciodvfy(write(tmp_path, item.name + ".orig.dcm", item.data))
    got_errors = dciodvfy(write(tmp_path, item.name + ".got.dcm", data))
    assert got_errors <= original, f"{item.name}: dciodvfy errors added: {sorted(got_errors - original)}"


def decompression_changes(ds):
    """The elements decompression changes (PS3.5 8.2, A.4; PS3.3 C.7.6.3.1): Pixel Data and
    the encapsulation's Extended Offset Table; a colour transform undone gives RGB with
    Planar Configuration 0; a lossy source says so in Lossy Image Compression (PS3.3
    C.7.6.1.1.5)."""
    out = {0x7FE00010, 0x7FE00001, 0x7FE00002}
    if ds.get("SamplesPerPixel", 1) > 1:
        out.add(0x00280006)
    if str(ds.get("PhotometricInterpretation", "")).startswith("YBR"):
        out.add(0x00280004)
    if str(ds.file_meta.TransferSyntaxUID) in LOSSY and ds.get("LossyImageCompression") != "01":
        out |= {0x00282110, 0x00282114}
    return out


def test_wado_rs_instances(arc, corpus, tmp_path):
    for item in corpus:
        ds = arc.client.retrieve_instance(item.study, item.series, item.sop, media_types=EXPLICIT)
        assert ds.SOPInstanceUID == item.sop
        headers, data = retrieved_part(arc)
        assert f"transfer-syntax={EXPLICIT_LE}" in headers["content-type"]
        if item.ts not in UNCOMPRESSED:
            # compressed objects are decompressed (PS3.18 8.7.3.5.2: the default syntax)
            check_decompressed(tmp_path, item, data)
            continue
        check_retrieved(tmp_path, item, data, EXPLICIT_LE)


def test_wado_rs_as_stored_is_byte_for_byte(arc, corpus):
    for item in corpus:
        ds = arc.client.retrieve_instance(item.study, item.series, item.sop, media_types=AS_STORED)
        assert ds.SOPInstanceUID == item.sop
        headers, data = retrieved_part(arc)
        assert data == item.data, item.name
        assert f"transfer-syntax={item.ts}" in headers["content-type"]


def test_wado_rs_series_and_study(arc, corpus):
    for study, items in by(corpus, lambda i: i.study).items():
        got = arc.client.retrieve_study(study, media_types=AS_STORED)
        assert sorted(d.SOPInstanceUID for d in got) == sorted(i.sop for i in items)
        se = items[0].series
        got = arc.client.retrieve_series(study, se, media_types=AS_STORED)
        assert sorted(d.SOPInstanceUID for d in got) == sorted(i.sop for i in items if i.series == se)
        parts = split_multipart(arc.session.last.headers["Content-Type"], arc.session.last.content)
        assert sorted(p[1] for p in parts) == sorted(i.data for i in items if i.series == se)


def test_metadata_and_bulkdata_rebuild_the_object(arc, corpus):
    """The metadata with its BulkDataURIs resolved through retrieve_bulkdata is the stored data set."""
    client = arc.client
    bulk_calls = []

    for item in corpus:
        compressed = item.ts not in UNCOMPRESSED

        def bulk(tag, vr, uri):
            bulk_calls.append(uri)
            assert uri.startswith(arc.dicomweb + "/studies/"), uri
            if compressed and tag == "7FE00010":
                # encapsulated pixel data: dicomweb-client accepts any type, so the frames come
                # as stored, in the bitstream's own media type (PS3.18 8.7.3.3.2)
                frames = client.retrieve_bulkdata(uri)
                n = int(item.ds.get("NumberOfFrames", 1))
                assert [bytes(f) for f in frames] == list(generate_frames(item.ds.PixelData, number_of_frames=n)), item.name
                media = arc.session.last.headers["Content-Type"]
                assert f'type="{BITSTREAM[item.ts]}"' in media or f"type={BITSTREAM[item.ts]}" in media, media
                # asked for as application/octet-stream: decompressed, the samples pydicom decodes
                (native,) = client.retrieve_bulkdata(uri, media_types=("application/octet-stream",))
                want = item.ds.pixel_array
                got = np.frombuffer(bytes(native)[: want.nbytes], dtype=want.dtype).reshape(want.shape)
                if item.ts in LOSSY:
                    assert np.abs(got.astype(np.float64) - want.astype(np.float64)).mean() < 1.0, item.name
                else:
                    assert (got == want).all(), item.name
                return b""
            (value,) = client.retrieve_bulkdata(uri)
            return bytes(value)  # a bytearray, which pydicom's from_json would take for a list

        meta = client.retrieve_instance_metadata(item.study, item.series, item.sop)
        ds = pydicom.Dataset.from_json(meta, bulk_data_uri_handler=bulk)
        # Data Set Trailing Padding has no meaning (PS3.10 7.2) and no place in metadata
        ignore = {0xFFFCFFFC} | ({0x7FE00010} if compressed else set())
        diff = differences(item.ds, ds, a_little=item.ts != "1.2.840.10008.1.2.2", ignore=ignore)
        assert not diff, f"{item.name}: {diff[:5]}"
    assert bulk_calls
    study = corpus[0].study
    assert {m["00080018"]["Value"][0] for m in client.retrieve_study_metadata(study)} == {
        i.sop for i in corpus if i.study == study
    }
    se = corpus[0].series
    assert {m["00080018"]["Value"][0] for m in client.retrieve_series_metadata(study, se)} == {
        i.sop for i in corpus if i.series == se
    }


def wado_uri(peer, item, **extra):
    params = {"requestType": "WADO", "studyUID": item.study, "seriesUID": item.series, "objectUID": item.sop,
              "contentType": "application/dicom", **extra}
    return requests.get(peer.wado, params=params, timeout=60)


def test_wado_uri(arc, corpus, tmp_path):
    for item in corpus:
        r = wado_uri(arc, item, transferSyntax="*")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/dicom")
        assert r.content == item.data, item.name
        r = wado_uri(arc, item)
        assert r.status_code == 200, item.name
        if item.ts not in UNCOMPRESSED:
            check_decompressed(tmp_path, item, r.content)
            continue
        check_retrieved(tmp_path, item, r.content, EXPLICIT_LE)
