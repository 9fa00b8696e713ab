"""Helpers for parsers of JSON-lines formats: declare the record's shape once, get the SQL that parses it once."""

from __future__ import annotations

import json
from typing import Any


def sql_string(value: str) -> str:
    """A SQL string literal. Parsers only embed their own constant shapes and patterns, never record data."""
    return "'" + value.replace("'", "''") + "'"


def transform(shape: dict[str, Any], column: str = "text") -> str:
    """`json_transform` of a JSON text column into a typed STRUCT: one parse per record; fields of the wrong
    type become NULL instead of failing the batch (the parser decides which NULLs send a record to quarantine)."""
    return f"json_transform({column}, {sql_string(json.dumps(shape, separators=(',', ':')))})"


def jsonl_records(records: str, shape: dict[str, Any]) -> str:
    """A SELECT over the framed records giving rec_no, the parsed STRUCT `j` (NULL if not a JSON object) and
    `json_error` (why the line is not a usable JSON object, else NULL)."""
    return f"""
    SELECT rec_no, text,
           CASE WHEN NOT json_valid(text) THEN 'invalid JSON'
                WHEN json_type(text) <> 'OBJECT' THEN 'not a JSON object (' || lower(json_type(text)) || ')'
           END AS json_error,
           CASE WHEN json_valid(text) AND json_type(text) = 'OBJECT' THEN {transform(shape)} END AS j
    FROM {records}"""
