"""Every golden event validates against the JSON Schema of its type and version."""
import json

import jsonschema

from conftest import ROOT

SCHEMAS = ROOT / "schemas"


def test_golden_events_match_their_schemas():
    goldens = sorted((SCHEMAS / "golden").glob("v*/*.json"))
    assert goldens
    for path in goldens:
        version = path.parent.name
        schema = json.loads((SCHEMAS / "events" / f"{path.stem}.{version}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(json.loads(path.read_text()))


def test_schemas_reject_a_broken_event():
    schema = json.loads((SCHEMAS / "events" / "InstanceStored.v1.schema.json").read_text())
    event = json.loads((SCHEMAS / "golden" / "v1" / "InstanceStored.json").read_text())
    del event["payload"]["sha256"]
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(event))
    assert errors
