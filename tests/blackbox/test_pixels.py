"""The pixel side of WADO against the real binary: frames, rendered and thumbnail
resources, decompression on retrieve and WADO-URI. Expected pixels come from pydicom's
decoders; expected renderings from dcmtk's dcmj2pnm (compressed sources are first
decompressed by pydicom, so dcmtk needs no codec of its own), compared within a tolerance."""
import io
import subprocess
import warnings

import numpy as np
import pydicom
import pytest
import requests
from PIL import Image
from pydicom.encaps import generate_frames
from pydicom.uid import generate_uid

from conftest import AET, FIXTURES, parse_multipart, stow

FILES = [
    "pydicom/MR_small.dcm", "pydicom/CT_small.dcm", "pydicom/examples_palette.dcm",
    "pydicom/examples_rgb_color.dcm", "pydicom/SC_ybr_full_422_uncompressed.dcm",
    "pydicom/examples_ybr_color.dcm", "pydicom/JPEG2000.dcm", "pydicom/MR_small_RLE.dcm",
    "pydicom/SC_rgb_rle_2frame.dcm", "pydicom/examples_overlay.dcm", "pydicom/rtplan.dcm",
    "pydicom/JPGExtended.dcm", "pydicom/SC_rgb_jpeg_dcmtk.dcm", "pydicom/rtdose.dcm",
    "pixels/emri_small_jpeg_ls_lossless.dcm", "pixels/RG3_J2KI.dcm", "pixels/color-pl.dcm",
    "pixels/US1_J2KI.dcm", "pixels/OBXXXX1A_rle_2frame.dcm", "pixels/emri_small_RLE.dcm",
    "pixels/emri_small_jpeg_ext12.dcm", "pixels/SC_rgb_jpeg_ext12_422.dcm",
]


def read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


class Obj:
    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.ds = read(self.path)
        self.study, self.series, self.sop = self.ds.StudyInstanceUID, self.ds.SeriesInstanceUID, self.ds.SOPInstanceUID
        self.frames = int(self.ds.get("NumberOfFrames", 1) or 1)

    def url(self, base, tail=""):
        return f"{base}/studies/{self.study}/series/{self.series}/instances/{self.sop}{tail}"

    def wado(self, server, **params):
        q = {"requestType": "WADO", "studyUID": self.study, "seriesUID": self.series, "objectUID": self.sop, **params}
        return requests.get(f"{server.url}/aets/{AET}/wado", params=q, timeout=120)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    from conftest import Server

    tmp = tmp_path_factory.mktemp("pixels")
    s = Server(tmp / "data").start()
    objs, seen = {}, set()
    for name in FILES:
        path = FIXTURES / name
        ds = read(path)
        if ds.SOPInstanceUID in seen:
            # variants of one object share its SOP Instance UID: store them as new ones
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            path = tmp / path.name
            ds.save_as(path)
        seen.add(ds.SOPInstanceUID)
        objs[name.split("/")[1].removesuffix(".dcm")] = Obj(name, path)
    r = stow(s.base, [o.path.read_bytes() for o in objs.values()])
    assert r.status_code == 200, r.text
    yield s, objs
    s.kill()


def pixels_of(o, frame):
    """pydicom's decoded frame (1-based) as the little-endian bytes of its samples."""
    arr = o.ds.pixel_array
    if o.frames > 1:
        arr = arr[frame - 1]
    return arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def dcmtk(o, tmp_path, frame=1, window=None, scale_x=None):
    """dcmj2pnm's rendering as an array: the object's first window, else min/max."""
    src = o.path
    ds = read(o.path)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
        src = tmp_path / f"{o.path.stem}-native.dcm"
        ds.save_as(src)
    out = tmp_path / f"{o.path.stem}-{frame}.png"
    args = ["dcmj2pnm", "+on", "-O", "+F", str(frame)]
    if window:
        args += ["+Ww", str(window[0]), str(window[1])]
    elif "WindowCenter" in ds and ds.SamplesPerPixel == 1:
        args += ["+Wi", "1"]
    else:
        args += ["+Wm"]
    if scale_x:
        args += ["+Sxv", str(scale_x)]
    subprocess.run(args + [str(src), str(out)], check=True, capture_output=True)
    return np.asarray(Image.open(out))


def image(resp):
    return np.asarray(Image.open(io.BytesIO(resp.content)))


def close(ours, theirs, mean=1.5, p99=8):
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = np.abs(ours.astype(np.int32) - theirs.astype(np.int32))
    assert diff.mean() <= mean and np.percentile(diff, 99) <= p99, (diff.mean(), np.percentile(diff, 99))


# --- frames -------------------------------------------------------------------------

def test_frames_are_native_decompressed_samples(px):
    s, objs = px
    for key, frames in [("emri_small_jpeg_ls_lossless", [1, 3, 10]), ("MR_small_RLE", [1]), ("SC_rgb_rle_2frame", [2, 1]), ("JPEG2000", [1]), ("CT_small", [1])]:
        o = objs[key]
        r = requests.get(o.url(s.base, "/frames/" + ",".join(map(str, frames))))
        assert r.status_code == 200, (key, r.text)
        assert 'type="application/octet-stream"' in r.headers["content-type"]
        parts = parse_multipart(r)
        assert len(parts) == len(frames)
        for (headers, body), n in zip(parts, frames):
            assert headers["content-type"].startswith("application/octet-stream")
            assert body == pixels_of(o, n), (key, n)


def test_frames_as_stored_bitstreams(px):
    s, objs = px
    for key, media in [("emri_small_jpeg_ls_lossless", "image/jls"), ("emri_small_RLE", "image/dicom-rle"), ("examples_ybr_color", "image/jpeg")]:
        o = objs[key]
        stored = list(generate_frames(o.ds.PixelData, number_of_frames=o.frames))
        for accept in [f'multipart/related; type="{media}"', 'multipart/related; type="application/octet-stream"; transfer-syntax=*']:
            r = requests.get(o.url(s.base, "/frames/2,1"), headers={"Accept": accept})
            assert r.status_code == 200, (key, accept, r.text)
            parts = parse_multipart(r)
            assert [h["content-type"].split(";")[0] for h, _ in parts] == [media, media]
            assert f"transfer-syntax={o.ds.file_meta.TransferSyntaxUID}" in parts[0][0]["content-type"]
            assert [b for _, b in parts] == [stored[1], stored[0]], key


def test_frames_as_jpeg_for_browsers(px):
    s, objs = px
    o = objs["emri_small_jpeg_ls_lossless"]
    r = requests.get(o.url(s.base, "/frames/4"), headers={"Accept": "image/jpeg"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "JPEG" and img.size == (64, 64)
    r = requests.get(o.url(s.base, "/frames/1,2"), headers={"Accept": 'multipart/related; type="image/jpeg"'})
    assert r.status_code == 200
    assert all(Image.open(io.BytesIO(b)).format == "JPEG" for _, b in parse_multipart(r))


def test_frame_errors(px):
    s, objs = px
    o = objs["emri_small_jpeg_ls_lossless"]
    for bad in ["0", "a", "1,,2", "-1"]:
        assert requests.get(o.url(s.base, f"/frames/{bad}")).status_code == 400, bad
    r = requests.get(o.url(s.base, "/frames/1,11"))
    assert r.status_code == 404 and "frame 11" in r.text
    for path in ["/frames/1,2,1", "/frames/1,2,1/rendered"]:
        r = requests.get(o.url(s.base, path))
        assert r.status_code == 400 and "frame 1 is listed more than once" in r.text, (path, r.text)
    r = requests.get(objs["rtplan"].url(s.base, "/frames/1"))
    assert r.status_code == 404 and "not an image" in r.text
    r = requests.get(o.url(s.base, "/frames/1"), headers={"Accept": 'multipart/related; type="image/jp2"'})
    assert r.status_code == 406 and "image/jls" in r.text


# --- rendered and thumbnail ---------------------------------------------------------

RENDER_CASES = [
    ("MR_small", None), ("CT_small", None), ("examples_palette", None), ("examples_rgb_color", None),
    ("SC_ybr_full_422_uncompressed", None), ("examples_overlay", None), ("MR_small_RLE", None),
    ("RG3_J2KI", None), ("color-pl", None), ("US1_J2KI", None), ("JPEG2000", None),
    ("SC_rgb_jpeg_dcmtk", None), ("MR_small", (800, 600)), ("CT_small", (40, 400)),
    ("JPGExtended", None), ("JPGExtended", (100, 200)),
]


@pytest.mark.parametrize("key,window", RENDER_CASES)
def test_rendered_matches_dcmj2pnm(px, tmp_path, key, window):
    s, objs = px
    o = objs[key]
    params = {"window": f"{window[0]},{window[1]}"} if window else {}
    r = requests.get(o.url(s.base, "/rendered"), params=params, headers={"Accept": "image/png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    close(image(r), dcmtk(o, tmp_path, window=window))


def test_rendered_frame_of_multiframe_and_lossy_jpeg(px, tmp_path):
    s, objs = px
    o = objs["examples_ybr_color"]
    r = requests.get(o.url(s.base, "/frames/7/rendered"), headers={"Accept": "image/png"})
    assert r.status_code == 200
    close(image(r), dcmtk(o, tmp_path, frame=7), mean=2.0, p99=12)
    o = objs["emri_small_jpeg_ls_lossless"]
    r = requests.get(o.url(s.base, "/frames/5/rendered"), params={"quality": "95"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    close(image(r), dcmtk(o, tmp_path, frame=5), mean=3.0, p99=16)


def test_multiframe_instance_renders_as_animated_gif(px):
    s, objs = px
    o = objs["emri_small_jpeg_ls_lossless"]
    r = requests.get(o.url(s.base, "/rendered"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    assert Image.open(io.BytesIO(r.content)).n_frames == 10
    r = requests.get(o.url(s.base, "/rendered"), headers={"Accept": "image/jpeg"})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).format == "JPEG"
    r = requests.get(objs["MR_small"].url(s.base, "/rendered"), headers={"Accept": "image/gif"})
    assert Image.open(io.BytesIO(r.content)).format == "GIF"


def test_viewport_quality_and_bad_parameters(px, tmp_path):
    s, objs = px
    o = objs["RG3_J2KI"]
    r = requests.get(o.url(s.base, "/rendered"), params={"viewport": "200,100"}, headers={"Accept": "image/png"})
    assert r.status_code == 200
    small = image(r)
    assert small.shape == (100, 100)  # 1760 x 1760 into 200 x 100, aspect kept
    full = Image.fromarray(dcmtk(o, tmp_path)).resize((100, 100), Image.Resampling.BOX)
    close(small, np.asarray(full), mean=2.0, p99=10)
    lo = requests.get(o.url(s.base, "/rendered"), params={"quality": "5", "viewport": "512,512"})
    hi = requests.get(o.url(s.base, "/rendered"), params={"quality": "95", "viewport": "512,512"})
    assert len(lo.content) < len(hi.content)
    # a source rectangle: the top-left quarter
    r = requests.get(o.url(s.base, "/rendered"), params={"viewport": "880,880,0,0,880,880"}, headers={"Accept": "image/png"})
    close(image(r), dcmtk(o, tmp_path)[:880, :880])
    for bad in [{"window": "40"}, {"window": "40,0"}, {"viewport": "0,10"}, {"quality": "101"}, {"window": "1,2,cubic"}]:
        assert requests.get(o.url(s.base, "/rendered"), params=bad).status_code == 400, bad
    assert requests.get(o.url(s.base, "/rendered"), headers={"Accept": "image/webp"}).status_code == 406
    r = requests.get(objs["rtplan"].url(s.base, "/rendered"))
    assert r.status_code == 406 and "not an image" in r.text


def test_thumbnails_at_every_level(px):
    s, objs = px
    o = objs["examples_rgb_color"]
    r = requests.get(o.url(s.base, "/thumbnail"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (128, 96)
    r = requests.get(o.url(s.base, "/thumbnail"), params={"viewport": "64,64"}, headers={"Accept": "image/png"})
    assert Image.open(io.BytesIO(r.content)).size == (64, 48)
    r = requests.get(f"{s.base}/studies/{o.study}/series/{o.series}/thumbnail")
    assert r.status_code == 200 and max(Image.open(io.BytesIO(r.content)).size) == 128
    r = requests.get(f"{s.base}/studies/{o.study}/thumbnail", headers={"Accept": "image/gif"})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).format == "GIF"
    r = requests.get(objs["emri_small_RLE"].url(s.base, "/frames/3/thumbnail"))
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (128, 128)
    r = requests.get(f"{s.base}/studies/{objs['rtplan'].study}/thumbnail")
    assert r.status_code == 404


def test_series_and_study_rendered_are_multipart(px):
    s, objs = px
    images = [o for o in objs.values() if "PixelData" in o.ds]
    for o in images:
        r = requests.get(f"{s.base}/studies/{o.study}/series/{o.series}/rendered", headers={"Accept": "image/png"})
        assert r.status_code == 200, (o.name, r.text)
        same = [x for x in images if x.series == o.series]
        parts = parse_multipart(r)
        assert len(parts) == len(same), o.name
        assert all(Image.open(io.BytesIO(b)).format == "PNG" for _, b in parts)


# --- decompression on retrieve ------------------------------------------------------

def test_series_of_compressed_objects_is_decompressed(px):
    s, objs = px
    o = objs["US1_J2KI"]
    r = requests.get(f"{s.base}/studies/{o.study}/series/{o.series}")
    assert r.status_code == 200
    for headers, body in parse_multipart(r):
        got = read(io.BytesIO(body))
        assert got.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        if got.SOPInstanceUID == o.sop:
            assert got.LossyImageCompression == "01"
            diff = np.abs(got.pixel_array.astype(int) - o.ds.pixel_array.astype(int))
            assert diff.mean() < 1.0
    r = requests.get(o.url(s.base), headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'})
    assert r.status_code == 406


def dciodvfy_errors(path):
    """dciodvfy's error lines for a file."""
    r = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace")
    return {line.strip() for line in (r.stdout + r.stderr).splitlines() if line.startswith("Error")}


def test_twelve_bit_jpeg_is_decompressed_within_one_of_pydicom(px, tmp_path):
    """JPEG Extended with 12-bit samples (process 4): the default retrieve is Explicit VR
    Little Endian with every sample within ±1 of pydicom's (pylibjpeg-libjpeg), lossy
    compression recorded, and no dciodvfy error the stored object does not have."""
    s, objs = px
    for key in ["JPGExtended", "emri_small_jpeg_ext12"]:
        o = objs[key]
        r = requests.get(o.url(s.base))
        assert r.status_code == 200, (key, r.text)
        (headers, body), = parse_multipart(r)
        assert "transfer-syntax=1.2.840.10008.1.2.1" in headers["content-type"]
        got = read(io.BytesIO(body))
        assert got.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert (got.BitsAllocated, got.BitsStored, got.PhotometricInterpretation) == (16, 12, "MONOCHROME2")
        assert got.LossyImageCompression == "01" and got.LossyImageCompressionMethod == "ISO_10918_1"
        diff = np.abs(got.pixel_array.astype(np.int32) - o.ds.pixel_array.astype(np.int32))
        assert diff.max() <= 1, (key, diff.max())
        (tmp_path / f"{key}.dcm").write_bytes(body)
        assert dciodvfy_errors(tmp_path / f"{key}.dcm") <= dciodvfy_errors(o.path), key
    # frames of a multi-frame one, as native samples
    o = objs["emri_small_jpeg_ext12"]
    r = requests.get(o.url(s.base, "/frames/10,2"))
    assert r.status_code == 200, r.text
    for (_, body), n in zip(parse_multipart(r), [10, 2]):
        got = np.frombuffer(body, dtype="<u2").reshape(64, 64).astype(np.int32)
        assert np.abs(got - o.ds.pixel_array[n - 1].astype(np.int32)).max() <= 1, n


def test_twelve_bit_colour_jpeg_is_rgb(px):
    """12-bit YBR_FULL_422 JPEG comes back RGB: pydicom gives the YCbCr samples (it converts
    8-bit ones only), turned here into RGB with the PS3.3 C.7.6.3.1.2 equations; chroma
    upsampling and rounding may differ by a few levels of 4095."""
    s, objs = px
    o = objs["SC_rgb_jpeg_ext12_422"]
    from pydicom.pixels import pixel_array
    ybr = pixel_array(o.path, as_rgb=False).astype(np.float64)
    y, cb, cr = ybr[..., 0], ybr[..., 1] - 2048, ybr[..., 2] - 2048
    want = np.clip(np.round(np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1)), 0, 4095)
    r = requests.get(o.url(s.base))
    assert r.status_code == 200, r.text
    got = read(io.BytesIO(parse_multipart(r)[0][1]))
    assert (got.PhotometricInterpretation, got.PlanarConfiguration, got.BitsStored) == ("RGB", 0, 12)
    diff = np.abs(got.pixel_array.astype(np.float64) - want)
    assert diff.mean() < 0.5 and diff.max() <= 4, (diff.mean(), diff.max())
    r = requests.get(o.url(s.base, "/rendered"), headers={"Accept": "image/png"})
    assert r.status_code == 200
    close(image(r), (want / 16).astype(np.uint8), mean=1.0, p99=2)


# --- WADO-URI -----------------------------------------------------------------------

def test_wado_uri_defaults_and_content_types(px, tmp_path):
    s, objs = px
    mr = objs["MR_small"]
    r = mr.wado(s)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    close(image(r), dcmtk(mr, tmp_path), mean=3.0, p99=20)
    multi = objs["emri_small_jpeg_ls_lossless"]
    r = multi.wado(s)
    assert r.headers["content-type"].startswith("application/dicom")
    assert read(io.BytesIO(r.content)).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    r = multi.wado(s, contentType="image/png", frameNumber="3")
    close(image(r), dcmtk(multi, tmp_path, frame=3))
    r = multi.wado(s, contentType="image/webp,image/gif")
    assert r.headers["content-type"] == "image/gif" and Image.open(io.BytesIO(r.content)).n_frames == 10
    assert objs["rtplan"].wado(s).headers["content-type"].startswith("application/dicom")
    assert mr.wado(s, contentType="text/html").status_code == 406


def test_wado_uri_rendering_parameters(px, tmp_path):
    s, objs = px
    ct = objs["CT_small"]
    r = ct.wado(s, contentType="image/png", windowCenter="40", windowWidth="400")
    close(image(r), dcmtk(ct, tmp_path, window=(40, 400)))
    r = ct.wado(s, contentType="image/png", rows="64", columns="100")
    assert image(r).shape == (64, 64)
    r = ct.wado(s, contentType="image/png", region="0,0,0.5,0.25")
    close(image(r), dcmtk(ct, tmp_path)[:32, :64])
    lo, hi = ct.wado(s, imageQuality="5"), ct.wado(s, imageQuality="95")
    assert lo.status_code == 200 and len(lo.content) < len(hi.content)
    r = ct.wado(s, contentType="application/dicom", transferSyntax="*")
    assert r.content == ct.path.read_bytes()


def test_wado_uri_transfer_syntax_and_errors(px):
    s, objs = px
    j2k = objs["JPEG2000"]
    r = j2k.wado(s, contentType="application/dicom")
    got = read(io.BytesIO(r.content))
    assert got.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    r = j2k.wado(s, contentType="application/dicom", transferSyntax="1.2.840.10008.1.2")
    assert read(io.BytesIO(r.content)).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    r = j2k.wado(s, contentType="application/dicom", transferSyntax="1.2.840.10008.1.2.4.50")
    assert r.status_code == 406 and "1.2.840.10008.1.2.1" in r.text
    mr = objs["MR_small"]
    for bad in [
        {"contentType": "application/dicom", "windowCenter": "1", "windowWidth": "2"},
        {"contentType": "application/dicom", "frameNumber": "1"},
        {"contentType": "image/jpeg", "transferSyntax": "1.2.840.10008.1.2.1"},
        {"windowCenter": "40"},
        {"windowCenter": "40", "windowWidth": "-1"},
        {"rows": "0"},
        {"region": "0.5,0,0.2,1"},
        {"imageQuality": "0"},
        {"frameNumber": "x"},
        {"presentationSeriesUID": "1.2.3"},
    ]:
        r = mr.wado(s, **bad)
        assert r.status_code == 400 and "PS3.18" in r.text, (bad, r.status_code, r.text)
    assert mr.wado(s, frameNumber="2").status_code == 404
    # a parameter given twice is refused, not half-read
    r = requests.get(f"{s.url}/aets/{AET}/wado", params=[
        ("requestType", "WADO"), ("studyUID", mr.study), ("seriesUID", mr.series),
        ("objectUID", mr.sop), ("objectUID", mr.sop)])
    assert r.status_code == 400 and "objectUID" in r.text and "PS3.18" in r.text, r.text
    assert mr.wado(s, presentationUID="1.2", presentationSeriesUID="1.2.3").status_code == 406
    assert mr.wado(s, charset="UTF-8", annotation="patient").status_code == 200


def test_an_image_module_that_does_not_hold_together_is_406_not_500(server):
    # badVR.dcm (pydicom's test file) stores Number of Frames as "1A": the object is
    # accepted and served as stored, but no frame or rendering can be made from it
    path = FIXTURES / "pydicom" / "badVR.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    assert stow(server.base, [path.read_bytes()]).status_code == 200
    url = f"{server.base}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    for suffix in ["/rendered", "/thumbnail", "/frames/1", "/frames/1/rendered"]:
        r = requests.get(url + suffix)
        assert r.status_code == 406, (suffix, r.status_code, r.text)
        assert "Number of Frames" in r.text and "transfer-syntax=*" in r.text, (suffix, r.text)
    r = requests.get(url, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
    assert r.status_code == 200
    assert requests.get(f"{server.url}/health").status_code == 200
