"""Read the settings geopreflight needs from `/etc/gitlab/gitlab.rb`, which is Ruby.

Only a small, literal subset is understood: `key 'value'` calls (`external_url`,
`roles [...]`), and assignments `name['a']['b'] = <literal>` whose value is a string (both
quote styles), number, `true`/`false`/`nil`, symbol, array, `%w()` list or hash (multi-line,
`'k' => v`, `:k => v`, `k: v`, `'k': v`). Comments are skipped. A statement that is not
literal (string interpolation, `ENV[...]`, method calls, conditionals) is recorded as a
problem for the key it assigns, so a check that needs that key reports an error instead of
guessing, while the rest of the file still reads.

gitlab.rb holds the instance's secrets (`secret_key_base`, `db_key_base`, keys, passwords), so
a problem names the line and the key, never a value (a string is "a string"), and `facts()`
keeps only the settings the checks read (`FACT_KEYS`): everything else never leaves the host.

>>> rb = parse('''
... external_url "https://gitlab.example.com" # the URL
... roles(['geo_primary_role'])
... registry['database'] = {
...   'enabled' => true,  # external DB
...   host: "db.internal", :port => 5432,
... }
... gitlab_rails['db_password'] = ENV['X']
... ''')
>>> rb.get("external_url"), rb.get("roles"), rb.get("registry", "database", "port")
('https://gitlab.example.com', ['geo_primary_role'], 5432)
>>> rb.get("registry", "database")["host"]
'db.internal'
>>> secret = parse("registry['database'] = { 'enabled' => true, 'password' => ENV['P'] }")
>>> secret.get("registry", "database", "enabled")
True
>>> try:
...     secret.get("registry", "database", "password")
... except Unparsed as exc:
...     print(exc)
gitlab.rb line 1: cannot read registry['database']['password'] (not a literal value: ENV)
>>> try:
...     rb.get("gitlab_rails", "db_password")
... except Unparsed as exc:
...     print(exc)
gitlab.rb line 8: cannot read gitlab_rails['db_password'] (not a literal value: ENV)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MISSING: Any = object()
MAX_DEPTH = 32  # nested arrays and hashes; deeper is not a setting

# The settings checks/ and the probes read (rb_get/rb_has, geo_role, the registry probe): the
# only ones facts keep. A check that reads another must add it here.
FACT_KEYS: tuple[tuple[str, ...], ...] = (
    ("external_url",), ("registry_external_url",), ("roles",),
    ("geo_primary_role", "enable"), ("geo_secondary_role", "enable"),
    ("registry", "enable"),
    *(("registry", "database", k) for k in ("enabled", "host", "port", "dbname", "user")),
    ("registry", "storage", "maintenance", "readonly", "enabled"),
    ("registry", "env", "REGISTRY_FF_ENFORCE_LOCKFILES"),
    ("postgresql", "enable"), ("postgresql", "listen_address"), ("postgresql", "port"),
    ("gitlab_rails", "geo_node_name"), ("gitlab_rails", "geo_registry_replication_enabled"),
    ("gitlab_rails", "geo_registry_replication_primary_api_url"),
)
# Ruby words a message may name (`not a literal value: ENV`); any other name may be a value.
_WORDS = frozenset("ENV File IO Dir YAML JSON Base64 SecureRandom Socket node if unless else "
                   "elsif end do begin rescue case when while until require require_relative "
                   "load puts def class module lambda proc eval then and or not self".split())


class Unparsed(Exception):  # noqa: N818 - a reason the value is unknown, raised to checks
    """A setting the checker needs is written in a way it cannot read."""


@dataclass(frozen=True)
class Problem:
    line: int
    path: tuple[str, ...]
    reason: str

    def describe(self) -> str:
        key = self.path[0] + "".join(f"['{p}']" for p in self.path[1:]) if self.path else "?"
        return f"gitlab.rb line {self.line}: cannot read {key} ({self.reason})"


class _NotLiteral(Exception):  # noqa: N818
    pass


@dataclass(frozen=True)
class _Unknown:
    """A hash value that is not literal (e.g. `ENV['X']`); its key becomes a problem."""

    reason: str


def _unknowns(value: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """Take the unknown values out of nested hashes; their paths and reasons."""
    found: list[tuple[tuple[str, ...], str]] = []
    if isinstance(value, dict):
        for key in list(value):
            if isinstance(value[key], _Unknown):
                found.append((path + (key,), value.pop(key).reason))
            else:
                found += _unknowns(value[key], path + (key,))
    return found


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+|\\\n)
  | (?P<nl>\n|;)
  | (?P<comment>\#[^\n]*)
  | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<pctw>%[wi][(\[{<])
  | (?P<sym>:[A-Za-z_][A-Za-z0-9_]*[?!]?)
  | (?P<num>-?\d[\d_]*(?:\.\d+)?)
  | (?P<label>[A-Za-z_][A-Za-z0-9_]*:(?!:))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*[?!]?|::)
  | (?P<arrow>=>)
  | (?P<op>==|\|\|=|&&=|\+=|[=\[\](){},.|&+*<>!?-])
  | (?P<other>.)
""", re.X | re.S)

_CLOSE = {"(": ")", "[": "]", "{": "}", "<": ">"}


@dataclass
class _Tok:
    kind: str
    text: str
    line: int
    spaced: bool = False  # preceded by white space: `roles ['x']` is a call, `a['x']` an index


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    line, pos, spaced = 1, 0, False
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None
        kind, value = m.lastgroup or "other", m.group()
        if kind == "pctw":  # %w(a b c): read to the matching close bracket
            close = _CLOSE[value[-1]]
            end = text.find(close, m.end())
            end = len(text) if end < 0 else end
            out.append(_Tok("words", text[m.end():end], line, spaced))
            line += text.count("\n", pos, end + 1)
            pos, spaced = end + 1, False
            continue
        if kind not in ("ws", "comment"):
            out.append(_Tok(kind, value, line, spaced))
        spaced = kind == "ws"
        line += value.count("\n")
        pos = m.end()
    return out


def _what(tok: _Tok | None) -> str:
    """A token for a message: its kind, or its text only where that cannot be a value."""
    if tok is None:
        return "the end"
    kinds = {"sq": "a string", "dq": "a string", "num": "a number", "words": "a %w() list",
             "sym": "a symbol", "label": "a label", "other": "an unexpected character"}
    if tok.kind in kinds:
        return kinds[tok.kind]
    if tok.kind == "ident":
        return tok.text if tok.text in _WORDS else "a name"
    return repr(tok.text)  # punctuation: `=`, `(`, `::`


def _string(tok: _Tok) -> str:
    body = tok.text[1:-1]
    if tok.kind == "sq":
        return re.sub(r"\\([\\'])", r"\1", body)
    if "#{" in body:
        raise _NotLiteral("string interpolation")
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "s": " ", "0": "\0"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), body)


class _Parser:
    """A literal-only reader over one statement's tokens."""

    def __init__(self, toks: list[_Tok]) -> None:
        self.toks, self.i, self.depth = toks, 0, 0

    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text):
            raise _NotLiteral(f"expected {text!r}" if text else "unexpected end")
        self.i += 1
        return tok

    def skip_nl(self) -> None:
        while (t := self.peek()) is not None and t.kind == "nl" and t.text == "\n":
            self.i += 1

    def value(self) -> Any:
        self.skip_nl()
        tok = self.take()
        if tok.kind in ("sq", "dq"):
            return _string(tok)
        if tok.kind == "num":
            text = tok.text.replace("_", "")
            return float(text) if "." in text else int(text)
        if tok.kind == "sym":
            return tok.text[1:]
        if tok.kind == "words":
            return tok.text.split()
        if tok.kind == "ident" and tok.text in ("true", "false", "nil"):
            return {"true": True, "false": False, "nil": None}[tok.text]
        if tok.text in ("[", "{"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _NotLiteral(f"nested deeper than {MAX_DEPTH} levels")
            try:
                if tok.text == "[":
                    return self.sequence("]", self.value)
                return dict(self.sequence("}", self.pair))
            finally:
                self.depth -= 1
        raise _NotLiteral(f"not a literal value: {_what(tok)}")

    def pair(self) -> tuple[str, Any]:
        self.skip_nl()
        tok = self.take()
        if tok.kind == "label":
            key = tok.text[:-1]
        elif tok.kind in ("sq", "dq", "sym"):
            key = _string(tok) if tok.kind != "sym" else tok.text[1:]
            nxt = self.peek()
            if tok.kind != "sym" and nxt is not None and nxt.text == ":":  # 'k': v
                self.take(":")
            else:
                self.take("=>")
        else:
            raise _NotLiteral(f"not a literal hash key: {_what(tok)}")
        start = self.i
        try:
            return key, self.value()
        except _NotLiteral as exc:  # only this key is unknown; the hash's others still read
            self.i = start
            self.skip_expression()
            return key, _Unknown(str(exc))

    def skip_expression(self) -> None:
        """Move to the `,` or `}` that ends a hash value (brackets balanced)."""
        depth = 0
        while (tok := self.peek()) is not None:
            if tok.kind == "op" and tok.text in "([{":
                depth += 1
            elif tok.kind == "op" and tok.text in ")]}":
                if depth == 0:
                    return
                depth -= 1
            elif tok.text == "," and depth == 0:
                return
            self.i += 1

    def sequence(self, close: str, item: Any) -> list[Any]:
        items = []
        while True:
            self.skip_nl()
            tok = self.peek()
            if tok is not None and tok.text == close:
                self.take()
                return items
            items.append(item())
            self.skip_nl()
            tok = self.take()
            if tok.text == close:
                return items
            if tok.text != ",":
                raise _NotLiteral(f"expected ',' or {close!r}, got {_what(tok)}")

    def end(self) -> None:
        if self.peek() is not None:
            raise _NotLiteral(f"unexpected {_what(self.peek())} after the value")


def _statements(toks: list[_Tok]) -> list[list[_Tok]]:
    """Split at newlines and `;` outside brackets (a hash spans lines)."""
    out: list[list[_Tok]] = []
    cur: list[_Tok] = []
    depth = 0
    for tok in toks:
        if tok.kind == "op" and tok.text in "([{":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]}":
            depth = max(0, depth - 1)
        if tok.kind == "nl" and depth == 0:
            if cur:
                out.append(cur)
            cur = []
            continue
        if tok.kind == "nl" and tok.text == ";":
            continue
        cur.append(tok)
    if cur:
        out.append(cur)
    return out


@dataclass
class RubyConfig:
    """The literal settings of a gitlab.rb, and the statements that could not be read."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def problem_for(self, path: tuple[str, ...]) -> Problem | None:
        """A problem that hides the value at `path` (an assignment to it, above or below it)."""
        for p in self.problems:
            n = min(len(p.path), len(path))
            if p.path[:n] == path[:n]:
                return p
        return None

    def get(self, *path: str, default: Any = None) -> Any:
        """The value at `path`, `default` when unset; `Unparsed` when it could not be read."""
        problem = self.problem_for(tuple(path))
        if problem is not None:
            raise Unparsed(problem.describe())
        node: Any = self.values
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def is_set(self, *path: str) -> bool:
        return self.get(*path, default=MISSING) is not MISSING


def _assign(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = values
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _statement(stmt: list[_Tok], cfg: RubyConfig) -> None:
    head = stmt[0]
    if head.kind != "ident":
        if head.kind not in ("op",) or head.text not in ("end",):
            cfg.problems.append(Problem(head.line, (), f"unrecognised statement starting with "
                                                       f"{_what(head)}"))
        return
    p = _Parser(stmt)
    p.take()
    path: list[str] = [head.text]
    try:
        while (t := p.peek()) is not None and t.text == "[" and not t.spaced:
            p.take("[")
            key = p.take()
            if key.kind not in ("sq", "dq", "sym"):
                raise _NotLiteral(f"not a literal key: {_what(key)}")
            path.append(_string(key) if key.kind != "sym" else key.text[1:])
            p.take("]")
        nxt = p.peek()
        if len(path) > 1 or (nxt is not None and nxt.text == "="):
            if nxt is None or nxt.text != "=":
                raise _NotLiteral("not a plain assignment")
            p.take("=")
        elif nxt is not None and nxt.text == "(":  # method call with parentheses
            p.take("(")
            value = p.value()
            p.take(")")
            p.end()
            _assign(cfg.values, tuple(path), value)
            return
        elif nxt is None:
            return  # a bare word: nothing to record
        value = p.value()
        p.end()
        for where, reason in _unknowns(value, tuple(path)):
            cfg.problems.append(Problem(head.line, where, reason))
        _assign(cfg.values, tuple(path), value)
    except _NotLiteral as exc:
        cfg.problems.append(Problem(head.line, tuple(path), str(exc)))


def parse(text: str) -> RubyConfig:
    """Parse gitlab.rb text; never raises on content, records problems instead."""
    cfg = RubyConfig()
    for stmt in _statements(_tokens(text)):
        _statement(stmt, cfg)
    return cfg


def _overlaps(path: tuple[str, ...]) -> bool:
    """Whether `path` is a kept setting, lies above one, or below one."""
    return not path or any(path[:len(k)] == k[:len(path)] for k in FACT_KEYS)


def _plain(value: Any) -> bool:
    scalar = (str, int, float, bool, type(None))
    return isinstance(value, scalar) or (isinstance(value, list)
                                         and all(isinstance(v, scalar) for v in value))


def facts(cfg: RubyConfig) -> dict[str, Any]:
    """What a fact keeps of a gitlab.rb: the `FACT_KEYS` settings and the problems that hide
    them. Every other setting (secrets among them) is left out, not masked.

    >>> f = facts(parse("gitlab_rails['db_key_base'] = 'MK2'\\nregistry['enable'] = true\\n"
    ...                 "gitlab_rails['otp_key_base'] = 'a' 'b'\\n'MK2'\\n"))
    >>> f["values"], [(p["line"], p["reason"]) for p in f["problems"]]
    ({'registry': {'enable': True}}, [(4, 'unrecognised statement starting with a string')])
    """
    values: dict[str, Any] = {}
    problems = [p for p in cfg.problems if _overlaps(p.path)]
    for key in FACT_KEYS:
        value = cfg.values
        for part in key:
            value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
        if value is MISSING:
            continue
        if _plain(value):
            _assign(values, key, value)
        else:
            problems.append(Problem(0, key, "a hash where a plain value was expected"))
    return {"values": values, "problems": [{"line": p.line, "path": list(p.path),
                                            "reason": p.reason} for p in problems]}


def geo_role(cfg: RubyConfig) -> str | None:
    """`primary`, `secondary` or None, from `roles [...]` or `geo_*_role['enable'] = true`.

    >>> geo_role(parse("geo_secondary_role['enable'] = true"))
    'secondary'
    >>> geo_role(parse("roles %w(geo_primary_role monitoring_role)"))
    'primary'
    """
    roles = cfg.get("roles") or []
    roles = [roles] if isinstance(roles, str) else list(roles)
    found = set()
    for role in ("primary", "secondary"):
        name = f"geo_{role}_role"
        if name in roles or cfg.get(name, "enable") is True:
            found.add(role)
    if len(found) > 1:
        raise Unparsed("gitlab.rb enables both geo_primary_role and geo_secondary_role")
    return found.pop() if found else None
