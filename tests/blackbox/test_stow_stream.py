"""STOW-RS streams: a 2 GiB request (8 instances of 256 MiB, generated on the fly) is stored
while the server's peak resident memory stays flat, a body past max_request_bytes is
refused with 413 and nothing stored, and parts over 64 MiB (parsed up to their Pixel Data
only) have their names decoded in every character set as small ones."""
import hashlib
import io
import shutil

import pydicom
import pytest
import requests
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from conftest import FIXTURES, Server

MiB = 1 << 20
PART_PIXELS = 256 * MiB  # 16 frames of 4096 x 4096, 8 bits
PARTS = 8
BOUNDARY = "stream-test-boundary-7f3a"
# A bound, not a timing: a server that held one part in memory would pass 256 MiB.
PEAK_RSS_LIMIT = 300 * MiB


def header(study, series, i):
    """Part 10 bytes of an instance up to (and including) the Pixel Data element header."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.2"  # Multi-frame Grayscale Byte SC
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = "Stream^Big"
    ds.PatientID = "STREAM1"
    ds.Modality = "OT"
    ds.InstanceNumber = i + 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 4096
    ds.Columns = 4096
    ds.NumberOfFrames = PART_PIXELS // (4096 * 4096)
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    pixel_header = b"\xe0\x7f\x10\x00OB\x00\x00" + PART_PIXELS.to_bytes(4, "little")
    return ds.SOPInstanceUID, buf.getvalue() + pixel_header


def block(i):
    """1 MiB of pixel data, different for each part."""
    return bytes((j * 7 + i) % 251 for j in range(256)) * (MiB // 256)


def vm_hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def big_server(tmp_path):
    s = Server(tmp_path / "data").start()
    yield s
    s.kill()
    shutil.rmtree(tmp_path / "data", ignore_errors=True)  # 2 GiB of blobs


def test_a_2_gib_stow_streams_in_flat_memory(big_server):
    s = big_server
    study, series = generate_uid(), generate_uid()
    parts = [header(study, series, i) for i in range(PARTS)]
    digests = [hashlib.sha256() for _ in range(PARTS)]

    def body():
        for i, (_, head) in enumerate(parts):
            yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            digests[i].update(head)
            yield head
            b = block(i)
            for _ in range(PART_PIXELS // MiB):
                digests[i].update(b)
                yield b
            yield b"\r\n"
        yield f"--{BOUNDARY}--\r\n".encode()

    before = vm_hwm(s.proc.pid)
    r = requests.post(
        f"{s.base}/studies",
        data=body(),
        headers={"Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'},
        timeout=1800,
    )
    assert r.status_code == 200, r.text
    peak = vm_hwm(s.proc.pid)
    print(f"peak RSS before {before / MiB:.0f} MiB, after a {PARTS * PART_PIXELS / MiB:.0f} MiB STOW {peak / MiB:.0f} MiB")
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / MiB:.0f} MiB"
    refs = r.json()["00081199"]["Value"]
    assert sorted(x["00081155"]["Value"][0] for x in refs) == sorted(uid for uid, _ in parts)
    # every blob is there, byte for byte what was sent (by digest), and the spool is empty
    for (_, head), d in zip(parts, digests):
        sha = d.hexdigest()
        blob = s.data_dir / "objects" / "blobs" / "sha256" / sha[:2] / f"{sha}.dcm"
        assert blob.stat().st_size == len(head) + PART_PIXELS
    assert not any((s.data_dir / "spool").glob("part-*"))
    inst = requests.get(f"{s.base}/studies/{study}/instances").json()
    assert len(inst) == PARTS
    meta = requests.get(f"{s.base}/studies/{study}/series/{series}/instances/{parts[0][0]}/metadata").json()[0]
    assert meta["00280008"]["Value"] == [16]
    assert meta["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010")


def test_a_body_past_the_limit_is_refused_and_nothing_is_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCSTREAM_MAX_REQUEST_BYTES", str(4 * MiB))
    s = Server(tmp_path / "data").start()
    try:
        _, head = header(generate_uid(), generate_uid(), 0)

        def body():
            yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + head
            for _ in range(8):
                yield block(0)

        r = requests.post(
            f"{s.base}/studies",
            data=body(),
            headers={"Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}', "Origin": "http://viewer.example"},
            timeout=120,
        )
        assert r.status_code == 413, r.text
        assert "max_request_bytes" in r.text
        assert r.headers.get("Access-Control-Allow-Origin") == "*"
        assert requests.get(f"{s.base}/instances").json() == []
        # a whole first part, then the body ends without its closing delimiter: 400, and
        # the part already written is not recorded
        small = (FIXTURES / "pydicom" / "CT_small.dcm").read_bytes()
        cut = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + small + f"\r\n--{BOUNDARY}\r\n\r\npartial".encode()
        ct = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        r = requests.post(f"{s.base}/studies", data=cut, headers={"Content-Type": ct})
        assert r.status_code == 400 and "closing boundary" in r.text, r.text
        assert requests.get(f"{s.base}/instances").json() == []
        assert requests.get(f"{s.url}/health").status_code == 200
    finally:
        s.kill()


def test_large_objects_in_other_character_sets_are_indexed_as_pydicom_reads_them(big_server):
    """A part over 64 MiB is parsed up to its Pixel Data only, as it streams; its names are
    decoded with the same character sets (ISO 2022 code extensions, GB18030) as a small
    object's: QIDO and metadata give the groups pydicom reads from the file."""
    s = big_server
    pixels = 65 * MiB  # past the whole-parse limit of 64 MiB
    names = ["chrH31.dcm", "chrH32.dcm", "chrI2.dcm", "chrX2.dcm"]  # Japanese, Korean ISO 2022; GB18030
    files = {}

    def body():
        for name in names:
            data = (FIXTURES / "pydicom-charsets" / name).read_bytes()
            ds = pydicom.dcmread(io.BytesIO(data))
            # Pixel Data is the last element: keep every byte before it, then a larger one
            cut = len(data) - len(ds.PixelData) - 12
            assert data[cut : cut + 6] == b"\xe0\x7f\x10\x00OB", name
            files[name] = ds
            yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data[:cut]
            yield b"\xe0\x7f\x10\x00OB\x00\x00" + pixels.to_bytes(4, "little")
            for i in range(pixels // MiB):
                yield block(i)
            yield b"\r\n"
        yield f"--{BOUNDARY}--\r\n".encode()

    ct = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    r = requests.post(f"{s.base}/studies", data=body(), headers={"Content-Type": ct}, timeout=600)
    assert r.status_code == 200, r.text
    for name, ds in files.items():
        groups = dict(zip(["Alphabetic", "Ideographic", "Phonetic"], [str(g) for g in ds.PatientName.components]))
        want = [{k: v for k, v in groups.items() if v}]
        (found,) = requests.get(f"{s.base}/instances", params={"SOPInstanceUID": ds.SOPInstanceUID, "includefield": "all"}).json()
        assert found["00100010"]["Value"] == want, name
        url = f"{s.base}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
        (meta,) = requests.get(f"{url}/metadata").json()
        assert meta["00100010"]["Value"] == want, name
        assert meta["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010")
    # found by the ideographic group too
    (h31,) = requests.get(f"{s.base}/studies", params={"PatientName": "山田^太郎", "PatientID": files["chrH31.dcm"].PatientID}).json()
    assert h31["0020000D"]["Value"] == [files["chrH31.dcm"].StudyInstanceUID]
