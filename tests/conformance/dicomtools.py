"""What the conformance suite checks objects with: multipart splitting of raw answers,
dciodvfy (Debian's dicom3tools) findings, and an element-by-element comparison with pydicom."""
import io
import re
import struct
import subprocess
from pathlib import Path

import pydicom
import pydicom.multival
from pydicom.tag import Tag

EXPLICIT_LE = "1.2.840.10008.1.2.1"
# VRs whose values pydicom keeps as raw bytes in the file's byte order, by word size.
WORD = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def split_multipart(content_type, body):
    """The (headers, body) parts of a multipart answer."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    assert m, f"no boundary in {content_type!r}"
    delim = b"--" + m.group(1).encode()
    parts = []
    for seg in body.split(delim)[1:]:
        if seg.startswith(b"--"):
            break
        seg = seg[2:] if seg.startswith(b"\r\n") else seg
        head, _, data = seg.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        parts.append((headers, data[:-2] if data.endswith(b"\r\n") else data))
    return parts


def dciodvfy(path):
    """dciodvfy's errors for a file (lines starting `Error`), and whether it aborted."""
    r = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace")
    text = r.stdout + r.stderr
    errors = {line.strip() for line in text.splitlines() if line.startswith("Error")}
    if r.returncode < 0 or "Assertion" in text:
        errors.add("dciodvfy aborted")
    return errors


def read(data):
    return pydicom.dcmread(io.BytesIO(data), force=True)


def _binary(elem, little):
    """A binary value as little endian bytes."""
    value = elem.value or b""
    size = WORD.get(elem.VR)
    if little or not size or not isinstance(value, (bytes, bytearray)):
        return bytes(value) if isinstance(value, (bytes, bytearray)) else value
    return b"".join(value[i : i + size][::-1] for i in range(0, len(value), size))


def as_float32(value):
    values = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
    return [struct.unpack("<f", struct.pack("<f", float(v)))[0] for v in values if v is not None]


def pn_values(value):
    values = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
    out = [re.sub(r"[\^=]+$", "", str(v or "")) for v in values]
    return [] if not any(out) else out


def differences(a, b, path="", a_little=True, b_little=True, ignore=()):
    """Where two data sets differ, element by element (values compared as decoded, binary
    values in little endian; group lengths left out, PS3.5 7.2)."""
    out = []
    tags_a = {e.tag for e in a if e.tag.element != 0 and e.tag not in ignore}
    tags_b = {e.tag for e in b if e.tag.element != 0 and e.tag not in ignore}
    for t in sorted(tags_a ^ tags_b):
        out.append(f"{path}{Tag(t)}: only in {'first' if t in tags_a else 'second'}")
    for t in sorted(tags_a & tags_b):
        ea, eb = a[t], b[t]
        where = f"{path}{Tag(t)} {ea.keyword or ''}"
        if ea.VR == "SQ" or eb.VR == "SQ":
            if ea.VR != eb.VR or len(ea.value) != len(eb.value):
                out.append(f"{where}: sequence differs ({ea.VR}/{len(ea.value or [])} vs {eb.VR}/{len(eb.value or [])})")
                continue
            for i, (ia, ib) in enumerate(zip(ea.value, eb.value)):
                out += differences(ia, ib, f"{where}[{i}].", a_little, b_little, ignore)
            continue
        va = _binary(ea, a_little) if ea.VR in WORD or ea.VR in ("OB", "UN") else ea.value
        vb = _binary(eb, b_little) if eb.VR in WORD or eb.VR in ("OB", "UN") else eb.value
        if ea.VR == "FL":
            # float32: DICOM JSON may write the shortest decimal that reads back to the same
            # float32 (PS3.18 F.2.3.1), so compare as float32
            va, vb = as_float32(va), as_float32(vb)
        if ea.VR == "PN":
            # trailing empty components and groups may be left out (PS3.5 6.2.1): `^^^^` is ``
            va, vb = pn_values(va), pn_values(vb)
        if va != vb:
            out.append(f"{where}: {str(va)[:60]!r} vs {str(vb)[:60]!r}")
    return out


def little_endian(ds):
    return str(ds.file_meta.get("TransferSyntaxUID", EXPLICIT_LE)) != "1.2.840.10008.1.2.2"


def compare_files(original: bytes, retrieved: bytes):
    """Element-by-element differences between a stored file and a retrieved one."""
    a, b = read(original), read(retrieved)
    return differences(a, b, a_little=little_endian(a), b_little=little_endian(b))


def write(folder: Path, name: str, data: bytes) -> Path:
    p = Path(folder) / name.replace("/", "_")
    p.write_bytes(data)
    return p
