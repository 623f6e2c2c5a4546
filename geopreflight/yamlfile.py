r"""YAML loading that remembers line numbers, so validation errors can name the line.

Every input file (inventory, profile, waivers, secret files) is read through `read_input`: a
regular file only (a FIFO or a device would hang or never end), at most a size cap, UTF-8.
The YAML layer accepts plain data only: no tags (`!!int x`, `!!python/object`), no keys that
cannot be keys, no nesting deeper than `MAX_DEPTH`, and a value PyYAML cannot build (the date
`2026-13-45`) is a UsageError naming the line, never a traceback.

>>> doc = loads("a: 1\nb:\n  - x\n  - y\n", "f.yml")
>>> doc["b"][1], doc.line_of("b"), doc["b"].line_of(1)
('y', 2, 4)
>>> loads("base: &b {url: x, n: 1}\nsite:\n  <<: *b\n  url: y\n", "f.yml")["site"]
{'url': 'y', 'n': 1}
>>> try:
...     loads("a: 1\nd: 2026-13-45\n", "f.yml")
... except UsageError as exc:
...     print(exc.file, exc.line, exc.message[:24])
f.yml 2 not a valid date or time
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import UsageError

MAX_BYTES = 1 << 20   # an inventory, profile or waiver file is a few KiB
MAX_DEPTH = 32        # the deepest real document is 5 levels


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


def _line(node: yaml.Node | yaml.Event) -> int:
    return node.start_mark.line + 1


class _Loader(yaml.SafeLoader):
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise UsageError("YAML tags (!!int, !!timestamp, !<...>) are not accepted: write "
                             "the plain value", line=_line(event))
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise UsageError(f"nested deeper than {MAX_DEPTH} levels", line=_line(event))
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:  # type: ignore[override]
        try:
            return super().construct_object(node, deep=deep)
        except ValueError:  # a timestamp PyYAML resolved but cannot build: 2026-02-30
            raise UsageError("not a valid date or time (expected YYYY-MM-DD; quote it if it is "
                             "a name)", line=_line(node)) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        self.flatten_mapping(node)  # merged pairs first, then the mapping's own
        merged = len(node.value) - explicit
        result = LineDict()
        result.line = _line(node)
        result.lines = {}
        own: set[Any] = set()
        for i, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise UsageError("a key must be a plain value (a name), not a list or mapping",
                                 line=_line(key_node)) from None
            if i >= merged:  # a key of the mapping itself overrides a merged one (<<: *x)
                if key in own:
                    raise UsageError(f"duplicate key {_key_name(key)}", line=_line(key_node))
                own.add(key)
            result[key] = self.construct_object(value_node, deep=True)
            result.lines[key] = _line(key_node)
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:  # type: ignore[override]
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = _line(node)
        result.lines = [_line(child) for child in node.value]
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)


def _key_name(key: Any) -> str:
    """A key for a message: short names as written, anything else by kind only."""
    text = str(key)
    return repr(key) if isinstance(key, str) and len(text) <= 64 and text.isprintable() else \
        f"(a {type(key).__name__} key)"


def loads(text: str, name: str) -> Any:
    """Parse YAML text; any syntax error becomes a UsageError naming the file and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except UsageError as exc:
        raise UsageError(exc.message, file=name, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise UsageError(f"not valid YAML: {exc.problem or exc.context or 'syntax error'}",
                         file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"not valid YAML: {str(exc).splitlines()[0]}", file=name) from None
    except RecursionError:
        raise UsageError(f"nested deeper than {MAX_DEPTH} levels", file=name) from None


# What a YAML file read from a host (config.yml, gitlab.yml) may expand to: nodes plus scalar
# characters, every alias counted each time it is used. A host file is at most 2 MiB, so a
# document without aliases stays far below; a "billion laughs" of 1 KiB is refused at once.
MAX_EXPANDED = 8 * 1024 * 1024
MAX_HOST_DEPTH = 64  # a rendered config.yml or gitlab.yml nests 5 or 6 levels
_HostLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: fast, depth-capped


class TooLarge(yaml.YAMLError):
    """A host's YAML that would expand past `MAX_EXPANDED` or nest past `MAX_HOST_DEPTH`."""


def _bounded(root: yaml.Node) -> None:
    """Raise TooLarge when `root` expands (aliases followed each time) past `MAX_EXPANDED`
    nodes and scalar characters, nests past `MAX_HOST_DEPTH`, or refers to itself. Linear in
    the composed graph: each node's expanded size and depth are computed once."""
    size: dict[int, tuple[int, int]] = {}  # id -> (expanded size, depth)
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = ([] if isinstance(node, yaml.ScalarNode) else
                    [n for item in node.value for n in (item if isinstance(item, tuple)
                                                        else (item,))])
        if finished:
            active.discard(key)
            below = [size[id(c)] for c in children]
            total = 1 + (len(node.value) if isinstance(node, yaml.ScalarNode) else
                         sum(n for n, _ in below))
            depth = 1 + max((d for _, d in below), default=0)
            if total > MAX_EXPANDED:
                raise TooLarge(f"expands to more than {MAX_EXPANDED // 2**20} MiB of values "
                               "(YAML aliases used again and again: a 'billion laughs')")
            if depth > MAX_HOST_DEPTH:
                raise TooLarge(f"nested deeper than {MAX_HOST_DEPTH} levels")
            size[key] = (total, depth)
        elif key not in size:
            if key in active:
                raise TooLarge("an alias refers to the node that holds it (a recursive "
                               "document)")
            active.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)


def loads_host(text: str) -> Any:
    r"""Plain data from a YAML file a host gave: composed, its expansion bounded (TooLarge, a
    `yaml.YAMLError`, otherwise), then built with PyYAML's safe constructor.

    >>> loads_host("a: &x [1, 2]\nb: *x\n")
    {'a': [1, 2], 'b': [1, 2]}
    >>> laughs = "a: &a [x, x]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}]\n"
    ...     for p, c in zip("abcdefghijklm", "bcdefghijklmn"))
    >>> loads_host(laughs)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geopreflight.yamlfile.TooLarge: expands to more than 8 MiB of values (YAML aliases ...
    """
    node = yaml.compose(text, Loader=_HostLoader)  # noqa: S506 - a safe loader
    if node is None:
        return None
    _bounded(node)
    return _HostLoader("").construct_document(node)


def read_input(path: str | Path, what: str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file, at most `limit`; anything else is a UsageError naming it.

    A FIFO would block forever and `/dev/zero` never ends: both are refused before reading.
    """
    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"cannot read the {what}: {exc.strerror}", file=name) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"the {what} is not a regular file (a FIFO, device or directory "
                             "cannot be read safely)", file=name)
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(65536, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read the {what}: {exc.strerror}", file=name) from None
    finally:
        os.close(fd)
    if size > limit:
        raise UsageError(f"the {what} is larger than {limit // 1024} KiB", file=name)
    return b"".join(chunks)


def decode(data: bytes, name: str, what: str) -> str:
    """UTF-8 text, or a UsageError naming the file and the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"the {what} is not UTF-8 text (byte {exc.start + 1})", file=name,
                         line=line) from None


def load(path: str | Path, what: str = "file") -> Any:
    """Read and parse a YAML file; a missing, unreadable or non-regular file is a UsageError."""
    return loads(decode(read_input(path, what), str(path), what), str(path))
