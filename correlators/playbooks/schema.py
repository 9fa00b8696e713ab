"""The playbook JSON Schema (draft 2020-12), published as docs/playbook.schema.json.

This module is the source; `python -m correlators.playbooks.schema > docs/playbook.schema.json` writes the
published copy and a test keeps the two identical. The schema checks shape (required keys, types, unknown keys,
duration syntax); the loader then checks meaning: field paths against the event schema, JSONLogic rules with
the SQL compiler, step names, dedup keys.
"""

from __future__ import annotations

import json
from typing import Any

DURATION_PATTERN = r"^\s*\d+\s*(ms|s|m|h|d|w)\s*$"
FIELD_PATTERN = r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"

_DURATION = {"type": "string", "pattern": DURATION_PATTERN, "description": "e.g. 90s, 10m, 2h, 30d"}
_FIELD = {"type": "string", "pattern": FIELD_PATTERN, "description": "an event field path, e.g. actor.user"}
_FIELDS = {"type": "array", "items": {"$ref": "#/$defs/field"}, "minItems": 1, "uniqueItems": True}
_RULE = {"description": "a JSONLogic rule over one event (checked by the JSONLogic compiler)"}


def _type_schema(name: str, required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", *required],
        "properties": {"type": {"const": name}, "lateness": {"$ref": "#/$defs/duration"}, **props},
    }


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://breachline.dev/schemas/playbook.schema.json",
    "title": "breachline playbook",
    "description": "One detection: which events (JSONLogic), how they correlate, how alerts are governed.",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "version", "title", "severity", "correlation"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 80,
               "description": "kebab-case, unique across all loaded playbooks"},
        "version": {"type": "integer", "minimum": 1,
                    "description": "bump on every change of meaning: it is part of the alert id"},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string"},
        "severity": {"enum": ["low", "medium", "high", "critical"]},
        "tags": {"type": "array", "uniqueItems": True,
                 "items": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]+$"},
                 "description": "MITRE ATT&CK (attack.t1530, attack.exfiltration), regulation (ccpa, gdpr, pci-dss)"},
        "correlation": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["match", "threshold", "sequence", "first_seen"]}},
            "allOf": [
                {"if": {"properties": {"type": {"const": t}}, "required": ["type"]},
                 "then": {"$ref": f"#/$defs/{t}"}}
                for t in ("match", "threshold", "sequence", "first_seen")
            ],
        },
        "dedup": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "key": {"$ref": "#/$defs/fields", "description": "subset of correlation.group_by (default: all of it)"},
                "suppress_for": {"$ref": "#/$defs/duration"},
                "after_close": {"enum": ["reopen", "new_linked"]},
                "budget_per_hour": {"type": ["integer", "null"], "minimum": 1},
            },
        },
        "exceptions": {"type": "array", "items": {"$ref": "#/$defs/exception"}},
        "notify": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "jira": {"type": "object", "additionalProperties": False,
                         "properties": {"project": {"type": "string", "minLength": 1},
                                        "issue_type": {"type": "string", "minLength": 1}}},
                "slack": {"type": "object", "additionalProperties": False,
                          "properties": {"channel": {"type": "string", "minLength": 1}}},
            },
        },
        "runbook": {"type": "string", "minLength": 1, "description": "path (relative to the repository) or URL"},
        "tests": {"type": "array", "items": {"$ref": "#/$defs/test"}},
    },
    "$defs": {
        "duration": _DURATION,
        "field": _FIELD,
        "fields": _FIELDS,
        "rule": _RULE,
        "aggregate": {
            "type": "object",
            "additionalProperties": False,
            "description": "one of count / distinct / sum / min / max, optionally over the events matching `where`",
            "oneOf": [{"required": [fn]} for fn in ("count", "distinct", "sum", "min", "max")],
            "properties": {
                "count": {"oneOf": [{"const": "*"}, {"$ref": "#/$defs/field"}]},
                "distinct": {"$ref": "#/$defs/field"},
                "sum": {"$ref": "#/$defs/field"},
                "min": {"$ref": "#/$defs/field"},
                "max": {"$ref": "#/$defs/field"},
                "where": {"$ref": "#/$defs/rule"},
            },
        },
        "match": _type_schema("match", ["where"], {
            "where": {"$ref": "#/$defs/rule"},
            "group_by": {"$ref": "#/$defs/fields"},
        }),
        "threshold": _type_schema("threshold", ["where", "group_by", "window", "having"], {
            "where": {"$ref": "#/$defs/rule"},
            "group_by": {"$ref": "#/$defs/fields"},
            "window": {"$ref": "#/$defs/duration"},
            "aggregate": {
                "type": "object",
                "propertyNames": {"pattern": "^[a-z_][a-z0-9_]*$"},
                "additionalProperties": {"$ref": "#/$defs/aggregate"},
            },
            "having": {"$ref": "#/$defs/rule"},
            "baseline": {"$ref": "#/$defs/duration",
                         "description": "makes baseline.<metric> available to having: the metric's peak in the "
                                        "group's earlier windows during this period"},
        }),
        "sequence": _type_schema("sequence", ["group_by", "window", "steps"], {
            "group_by": {"$ref": "#/$defs/fields"},
            "window": {"$ref": "#/$defs/duration"},
            "steps": {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/step"}},
        }),
        "first_seen": _type_schema("first_seen", ["where", "group_by", "value", "baseline"], {
            "where": {"$ref": "#/$defs/rule"},
            "group_by": {"$ref": "#/$defs/fields"},
            "value": {"$ref": "#/$defs/fields"},
            "baseline": {"$ref": "#/$defs/duration"},
            "min_history": {"$ref": "#/$defs/duration"},
        }),
        "step": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "where"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
                "where": {"$ref": "#/$defs/rule"},
                "absent": {"type": "boolean"},
                "group_by": {"$ref": "#/$defs/fields",
                             "description": "this step's fields for the sequence's group_by, position by position"},
                "first_seen": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["value", "baseline"],
                    "properties": {"value": {"$ref": "#/$defs/fields"}, "baseline": {"$ref": "#/$defs/duration"},
                                   "min_history": {"$ref": "#/$defs/duration"}},
                },
            },
        },
        "exception": {
            "type": "object",
            "additionalProperties": False,
            "required": ["where", "owner", "reason", "expires"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
                "where": {"$ref": "#/$defs/rule"},
                "owner": {"type": "string", "minLength": 3},
                "reason": {"type": "string", "minLength": 3},
                "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD (UTC)"},
            },
        },
        "test": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "events", "expect"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "start": {"type": "string", "description": "RFC 3339 time that `at` offsets count from"},
                "events": {"type": "array", "items": {"type": "object"}},
                "expect": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["alerts"],
                    "properties": {
                        "alerts": {"type": "integer", "minimum": 0},
                        "suppressed": {"type": "integer", "minimum": 0},
                        "groups": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    },
}


def schema_json() -> str:
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_json())
