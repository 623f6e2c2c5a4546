"""Small typed readers over line-aware YAML, shared by the inventory and profile loaders.

Each reader raises a UsageError naming the file, the line, the dotted path and what was
expected, so every loader reports bad input the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .errors import UsageError
from .yamlfile import LineDict, LineList

_KIND_NAMES = {str: "a string", int: "a whole number", bool: "true or false", float: "a number",
               LineDict: "a mapping", LineList: "a list"}


class Reader:
    """Reads one file's parsed YAML with errors that point at the line."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, message: str, node: Any = None, key: Any = None) -> UsageError:
        line = None
        if isinstance(node, LineDict | LineList):
            line = node.line_of(key) if key is not None else node.line
        return UsageError(message, file=self.file, line=line)

    def mapping(self, node: Any, where: str) -> LineDict:
        if not isinstance(node, LineDict):
            raise self.error(f"{where}: expected a mapping, got {_describe(node)}", node)
        return node

    def get(self, node: LineDict, key: str, kind: type | tuple[type, ...], where: str, *,
            required: bool = True, default: Any = None, choices: tuple[Any, ...] = ()) -> Any:
        path = f"{where}.{key}" if where else key
        if key not in node or node[key] is None:
            if required:
                raise self.error(f"{path}: missing (expected {_kinds(kind)})", node)
            return default
        value = node[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(f"{path}: expected {_kinds(kind)}, got {_describe(value)}", node, key)
        if choices and value not in choices:
            listed = ", ".join(str(c) for c in choices)
            raise self.error(f"{path}: expected one of {listed}, got {value!r}", node, key)
        return value

    def text(self, node: LineDict, key: str, where: str) -> str:
        """A required, non-empty string (names, approvers, tickets)."""
        value = self.get(node, key, str, where).strip()
        if not value:
            raise self.error(f"{where}.{key}: expected a non-empty string", node, key)
        return value

    def moment(self, node: LineDict, key: str, where: str, *, end_of_day: bool) -> datetime:
        """A date or an ISO 8601 time, in UTC (no zone means UTC); a date is the start of that
        day, or with `end_of_day` its end; a time at the edge of the calendar stays there.

        >>> from geopreflight.yamlfile import loads
        >>> r = Reader("w.yml")
        >>> r.moment(loads("e: 2026-12-31", "w.yml"), "e", "", end_of_day=True).isoformat()
        '2027-01-01T00:00:00+00:00'
        >>> r.moment(loads("e: 9999-12-31", "w.yml"), "e", "", end_of_day=True).year
        9999
        """
        value = self.get(node, key, (date, str), where)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise self.error(f"{where + '.' if where else ''}{key}: expected a date "
                                 "(YYYY-MM-DD) or an ISO 8601 time", node, key) from None
        if isinstance(value, datetime):
            return _utc(value)
        if end_of_day and value == date.max:  # the end of 9999-12-31 is past datetime's range
            return datetime.max.replace(tzinfo=UTC)
        return datetime.combine(value, time.min, UTC) + timedelta(days=int(end_of_day))

    def only(self, node: LineDict, allowed: set[str], where: str) -> None:
        """Unknown keys are typos more often than not: name them."""
        for key in node:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                raise self.error(f"{where + '.' if where else ''}{key}: unknown key (expected one "
                                 f"of: {expected})", node, key)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.max if value.year == 9999 else datetime.min).replace(tzinfo=UTC)


def _kinds(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)


def _describe(value: Any) -> str:
    """The kind of a value, never the value itself: it may be a secret."""
    if isinstance(value, LineDict):
        return "a mapping"
    if isinstance(value, LineList):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else type(value).__name__
