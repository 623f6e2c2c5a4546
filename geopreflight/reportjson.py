"""Reading a run's JSON reports back (`--from-evidence`, `verify`, `diff`): a bundle or a
report folder may come from anyone, so its JSON is checked before any field is used. Too deep
(a 5,000-level nest would exhaust the stack), a field of the wrong type, a fact that is not one:
each is a UsageError (exit 4) naming the file and the field, never a traceback.

`summary.json` is checked against its published JSON Schema (`summary.schema.json`), with the
few keywords that schema uses; `facts.json` against the fields of a recorded fact.

>>> summary(b'{"profile": "migrate-legacy", "steps": 3}', "s.json")
Traceback (most recent call last):
...
geopreflight.errors.UsageError: s.json: summary.json: requested_step: missing (expected a string)
>>> load(b"[" * 100 + b"]" * 100, "f.json")
Traceback (most recent call last):
...
geopreflight.errors.UsageError: f.json: nested deeper than 64 levels
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

from .errors import UsageError
from .facts import Fact
from .yamlfile import decode

MAX_DEPTH = 64  # the deepest real fact (host config.yml) is about 10 levels
SCHEMA = Path(__file__).resolve().parent / "summary.schema.json"
_JSON_TYPES: dict[str, Any] = {"string": str, "number": (int, float), "integer": int,
                               "boolean": bool, "null": type(None), "object": dict,
                               "array": list}
_FACT_FIELDS = frozenset(f.name for f in fields(Fact))
_FACT_TYPES: dict[str, Any] = {"site": (str, type(None)), "error": (str, type(None)),
                               "failure": (dict, type(None)), "source": str,
                               "started_at": str, "duration_s": (int, float)}


def load(data: bytes, where: str) -> Any:
    """Parsed JSON no deeper than MAX_DEPTH."""
    try:
        doc = json.loads(decode(data, where, "JSON file"))
    except (ValueError, RecursionError) as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else "nested too deep"
        raise UsageError(f"not valid JSON: {why}", file=where) from None
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UsageError(f"nested deeper than {MAX_DEPTH} levels", file=where)
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    return doc


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def _kind(schema: dict[str, Any]) -> str:
    kinds = schema.get("type")
    if kinds is None:
        return "one of " + ", ".join(json.dumps(v) for v in schema.get("enum", []))
    return " or ".join(f"a {k}" if k != "null" else "null"
                       for k in ([kinds] if isinstance(kinds, str) else kinds))


def _problem(value: Any, schema: dict[str, Any], path: str) -> str | None:
    """The first way `value` breaks `schema` (type, enum, required, properties, items,
    pattern, minimum, minLength), or None."""
    kinds = schema.get("type")
    if kinds is not None:
        wanted = tuple(_JSON_TYPES[k] for k in ([kinds] if isinstance(kinds, str) else kinds))
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            return f"{path}: expected {_kind(schema)}"
    if "enum" in schema and not any(value == v and type(value) is type(v)
                                    for v in schema["enum"]):
        return f"{path}: expected {_kind({'enum': schema['enum']})}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path}: expected a non-empty string"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{path}: not in the expected form"
    if isinstance(value, int | float) and not isinstance(value, bool) and \
            value < schema.get("minimum", value):
        return f"{path}: expected at least {schema['minimum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                return f"{path}.{key}: missing (expected {_kind(schema['properties'][key])})" \
                    .lstrip(".")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problem = _problem(value[key], sub, f"{path}.{key}".lstrip("."))
                if problem:
                    return problem
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problem = _problem(item, schema["items"], f"{path}[{i}]")
            if problem:
                return problem
    return None


def summary(data: bytes, where: str) -> dict[str, Any]:
    """A `summary.json` that matches its schema."""
    doc = load(data, where)
    problem = _problem(doc, _schema(), "")
    if problem:
        raise UsageError(f"summary.json: {problem}", file=where)
    return doc


def _fact_problem(item: Any) -> str | None:
    """What is wrong with one recorded fact, or None."""
    if not isinstance(item, dict):
        return "expected an object"
    unknown = sorted(str(k)[:40] for k in set(item) - _FACT_FIELDS)
    if unknown:
        return f"unknown field {unknown[0]!r}"
    if not isinstance(item.get("key"), str) or "site" not in item:
        return 'expected "key" (a string) and "site"'
    for key, kinds in _FACT_TYPES.items():
        value = item.get(key)
        if key in item and (not isinstance(value, kinds) or isinstance(value, bool)):
            return f'"{key}" has the wrong type'
    return None


def facts(data: bytes, where: str) -> list[dict[str, Any]]:
    """The recorded facts of a `facts.json`, each one a fact's fields of the right types."""
    doc = load(data, where)
    items = doc.get("facts") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise UsageError('expected an object with a "facts" list', file=where)
    for i, item in enumerate(items):
        problem = _fact_problem(item)
        if problem:
            raise UsageError(f"facts[{i}]: {problem}", file=where)
    return items
