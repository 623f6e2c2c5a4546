r"""YAML loading that remembers line numbers, so validation errors can name the line.

>>> doc = loads("a: 1\nb:\n  - x\n  - y\n", "f.yml")
>>> doc["b"][1], doc.line_of("b"), doc["b"].line_of(1)
('y', 2, 4)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UsageError


class LineDict(dict):
    """A mapping that knows the line of each key (1-based)."""

    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list):
    """A sequence that knows the line of each item (1-based)."""

    line: int = 0
    lines: list[int]

    def line_of(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else self.line


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        self.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in result:
                raise UsageError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1)
            result[key] = self.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:  # type: ignore[override]
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.lines = [child.start_mark.line + 1 for child in node.value]
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)


def loads(text: str, name: str) -> Any:
    """Parse YAML text; any syntax error becomes a UsageError naming the file and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except UsageError as exc:
        raise UsageError(str(exc).split(": ", 1)[-1], file=name, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise UsageError(f"not valid YAML: {exc.problem or exc}", file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"not valid YAML: {exc}", file=name) from None


def load(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a UsageError."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    return loads(text, str(path))
