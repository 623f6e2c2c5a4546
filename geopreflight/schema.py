"""Small typed readers over line-aware YAML, shared by the inventory and profile loaders.

Each reader raises a UsageError naming the file, the line, the dotted path and what was
expected, so every loader reports bad input the same way.
"""

from __future__ import annotations

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

    def only(self, node: LineDict, allowed: set[str], where: str) -> None:
        """Unknown keys are typos more often than not: name them."""
        for key in node:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                raise self.error(f"{where + '.' if where else ''}{key}: unknown key (expected one "
                                 f"of: {expected})", node, key)


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
