"""Normalisation of DICOM JSON answers for comparing two servers where the standard leaves
them free: attribute order, empty versus absent (PS3.18 F.2.5), the host and service root of
Retrieve URLs (0008,1190) and BulkDataURIs, bulk data by URI or inline (PS3.18 F.2.7), and
trailing empty person name components (PS3.5 6.2.1)."""
import re
import struct

RETRIEVE_URL = "00081190"


def url_tail(url):
    """A Retrieve URL or BulkDataURI without scheme, host and service root."""
    i = url.find("/studies/")
    return url[i:] if i >= 0 else url


def pn(value):
    """A person name with empty trailing components and groups dropped (PS3.5 6.2.1)."""
    groups = [re.sub(r"\^+$", "", value.get(g, "")) for g in ("Alphabetic", "Ideographic", "Phonetic")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def value_of(attr):
    """The comparable value of one DICOM JSON attribute, or None when it has none."""
    if "BulkDataURI" in attr or "InlineBinary" in attr:
        return ("binary",)
    values = attr.get("Value")
    if not values:
        return None
    out = []
    for v in values:
        if attr.get("vr") == "PN" and isinstance(v, dict):
            out.append(pn(v))
        elif attr.get("vr") == "SQ" and isinstance(v, dict):
            out.append(normalize(v))
        elif attr.get("vr") == "UR" and isinstance(v, str):
            out.append(url_tail(v))
        elif attr.get("vr") == "FL" and isinstance(v, (int, float)):
            # float32: one server writes the shortest decimal, another the float64 expansion
            out.append(struct.unpack("<f", struct.pack("<f", float(v)))[0])
        elif attr.get("vr") in ("IS", "DS") and isinstance(v, str):
            out.append(float(v))  # PS3.18 F.2.3: numbers, though some servers send strings
        else:
            out.append(v)
    if attr.get("vr") == "PN" and not any(out):
        return None
    return tuple(out)


def normalize(dataset):
    """tag -> (vr, value) for the attributes that have a value."""
    out = {}
    for tag, attr in dataset.items():
        v = value_of(attr)
        if v is not None:
            out[tag] = (attr.get("vr"), v)
    return out


def compare(a, b):
    """Differences between two DICOM JSON data sets: (tag, kind) with kind `only first`,
    `only second` or `value`."""
    na, nb = normalize(a), normalize(b)
    diffs = set()
    for tag in set(na) | set(nb):
        if tag not in nb:
            diffs.add((tag, "only first"))
        elif tag not in na:
            diffs.add((tag, "only second"))
        elif na[tag] != nb[tag]:
            diffs.add((tag, "value"))
    return diffs
