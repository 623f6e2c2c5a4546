"""`geopreflight diff BEFORE AFTER`: what a step changed, for a change record.

BEFORE and AFTER are evidence bundles or report folders (a run's folder, or a report dir whose
`latest` points at one). Only the redacted reports are read (`summary.json`, `facts.json`), so
no secret can appear. The result lists the step position before and after, the check rows whose
outcome changed (rows that entered or left the plan included), and the facts that changed, one
readable line each; timing fields and counters that move on their own are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import reportjson
from .errors import UsageError
from .evidence import Bundle
from .i18n import _
from .textsafe import for_terminal, markdown_cell
from .yamlfile import read_input

READ_CAP = 64 * 1024 * 1024
FORMATS = ("text", "markdown", "json")
ABSENT = "(absent)"
NOT_IN_PLAN = "not in plan"
# leaves that change from run to run without the deployment changing
NOISE = {"started_at", "duration_s", "updated_at", "as_of", "last_event_id",
         "cursor_last_event_id", "db_replication_lag_seconds"}
NOISY = {"canary.pushed": {"tag", "digest"}, "canary.seen": {"seconds", "digest"}}
WHOLE = {("host.config", "lockfiles")}  # subtrees compared as one value


def _mode(value: Any) -> str:
    return {"true": "database", "false": "legacy", None: "unknown (no header)"}.get(
        value, str(value))


def _on_off(value: Any) -> str:
    if value is None or value == ABSENT:
        return "off (not set)"
    return {True: "on", False: "off"}.get(value, str(value)) if isinstance(value, bool) \
        else str(value)


def _locks(value: Any) -> str:
    if not isinstance(value, dict):
        return _show(value)
    if not value.get("readable", True):
        return "unreadable"
    names = [n for n in ("filesystem-in-use", "database-in-use") if value.get(n)]
    return " and ".join(names) or "none"


# (fact key, path pattern) -> (readable label, how to show a value); the facts that matter
READABLE: list[tuple[str, re.Pattern[str], str, Callable[[Any], str]]] = [
    (k, re.compile(p), label, fmt) for k, p, label, fmt in [
        ("registry.api", r"database_enabled", "registry metadata mode", _mode),
        ("registry.api", r"gitlab_v1\.status", "registry /gitlab/v1/ API status", str),
        ("registry.api", r"version", "registry version", str),
        ("host.config", r"lockfiles", "storage lockfiles", _locks),
        ("host.config", r"config_yml\.database\.enabled", "config.yml database enabled",
         _on_off),
        ("host.config", r"config_yml\.readonly", "registry read-only mode (config.yml)", _on_off),
        ("host.config", r"gitlab_rb\.values\.registry\.database\.enabled",
         "gitlab.rb registry['database']['enabled']", _on_off),
        ("host.config", r"gitlab_rb\.values\.registry\.storage\.maintenance\.readonly\.enabled",
         "registry read-only mode (gitlab.rb)", _on_off),
        ("db.server", r"tables\.(\w+)\.rows", "registry DB rows in {0}", str),
        ("db.server", r"version", "PostgreSQL version", str),
        ("db.server", r"in_recovery", "registry DB in recovery (a replica)", _on_off),
        ("db.server", r"default_transaction_read_only", "registry DB default read-only", str),
        ("gitlab.own_answer", r"version", "GitLab version", str),
        ("host.gitlab_version", r"version", "GitLab version (host file)", str),
    ]]


@dataclass
class Run:
    """One side of the diff, read from its redacted reports."""

    source: str
    summary: dict[str, Any]
    facts: list[dict[str, Any]]

    @property
    def position(self) -> str:
        step, steps = self.summary.get("step"), [s.get("id") for s in self.summary.get("steps", [])]
        if step in steps:
            return f"{step} ({steps.index(step) + 1}/{len(steps)})"
        return "all steps complete" if self.summary.get("verdict") == "COMPLETE" else \
            "position unknown"


@dataclass
class Change:
    what: str
    before: str
    after: str
    key: dict[str, Any] = field(default_factory=dict)  # id/site (rows), key/site/path (facts)

    def line(self) -> str:
        return f"{self.what}: {self.before} -> {self.after}"


@dataclass
class Diff:
    before: Run
    after: Run
    header: list[Change]
    rows: list[Change]
    facts: list[Change]


def load_run(source: str) -> Run:
    """A bundle (its manifest verified first) or a report folder, its JSON checked (types,
    depth) before use; every file is read as `read_input` reads input (a FIFO is refused)."""
    path = Path(source)
    if path.is_dir():
        folder = path if (path / "summary.json").exists() else path / "latest"
        files = {n: read_input(folder / n, "report", READ_CAP)
                 for n in ("summary.json", "facts.json")}
        names = {n: str(folder / n) for n in files}
        summary = reportjson.summary(files["summary.json"], names["summary.json"])
        facts = reportjson.facts(files["facts.json"], names["facts.json"])
    elif path.exists():
        bundle = Bundle(source)
        summary = bundle.summary()
        facts = reportjson.facts(bundle.files["facts.json"], f"{source}:facts.json")
    else:
        raise UsageError(_("no such bundle or report folder"), file=source)
    return Run(source, summary, facts)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_show(v) for v in value) or "(empty)"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _ident(items: list[Any]) -> str | None:
    """The field that names each item of a list of objects (Geo sites, statuses), if any."""
    for name in ("name", "geo_node_id", "id"):
        ids = [i.get(name) for i in items]
        if all(isinstance(i, dict) and i.get(name) is not None for i in items) and \
                len(set(map(str, ids))) == len(ids):
            return name
    return None


def _leaves(key: str, value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf value) pairs; timing fields and WHOLE subtrees handled."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf in NOISE or leaf.endswith("_timestamp") or leaf in NOISY.get(key, ()):
        return
    if (key, path) in WHOLE:
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(key, v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        ident = _ident(value)
        for i, v in enumerate(value):
            name = str(v[ident]) if ident else str(i)
            yield from _leaves(key, v, f"{path}.{name}" if path else name)
    else:
        yield path, value


def _fact_map(run: Run) -> dict[tuple[str, str | None, str], Any]:
    out: dict[tuple[str, str | None, str], Any] = {}
    for f in run.facts:
        key, site = str(f.get("key")), f.get("site")
        if f.get("error"):
            out[(key, site, "")] = f"error: {f['error']}"
            continue
        for path, value in _leaves(key, f.get("value")):
            out[(key, site, path)] = value
    return out


def _label(key: str, site: str | None, path: str) -> tuple[int, str, Callable[[Any], str]]:
    """The line's rank (the facts that matter first), its readable name, its formatter."""
    prefix = f"{site} " if site else ""
    for rank, (k, pattern, label, fmt) in enumerate(READABLE):
        m = pattern.fullmatch(path)
        if k == key and m:
            return rank, prefix + label.format(*m.groups()), fmt
    return len(READABLE), prefix + " ".join(p for p in (key, path) if p), _show


def _rows(run: Run) -> dict[tuple[str, str | None, str | None], str]:
    return {(c.get("id"), c.get("site"), c.get("host")): str(c.get("outcome"))
            for c in run.summary.get("checks", []) if isinstance(c, dict)}


def compare(before: Run, after: Run) -> Diff:
    header = [Change(what, b, a) for what, b, a in [
        ("profile", before.summary.get("profile"), after.summary.get("profile")),
        ("step", before.position, after.position),
        ("verdict", before.summary.get("verdict"), after.summary.get("verdict"))]]
    rb, ra = _rows(before), _rows(after)
    rows = []
    for k in [*rb, *(k for k in ra if k not in rb)]:
        old, new = rb.get(k, NOT_IN_PLAN), ra.get(k, NOT_IN_PLAN)
        if old != new:
            check_id, site, host = k
            where = " ".join(str(x) for x in (site or "deployment", host) if x)
            ident = {"id": check_id, "site": site, **({"host": host} if host else {})}
            rows.append(Change(f"{check_id} {where}", old, new, ident))
    fb, fa = _fact_map(before), _fact_map(after)
    facts = []
    for k in sorted(set(fb) | set(fa), key=lambda k: (k[1] or "", _label(*k)[:2], k[2])):
        old, new = fb.get(k, ABSENT), fa.get(k, ABSENT)
        _, label, fmt = _label(*k)
        if old != new and fmt(old) != fmt(new):
            facts.append(Change(label, fmt(old), fmt(new),
                                {"key": k[0], "site": k[1], "path": k[2]}))
    return Diff(before, after, header, rows, facts)


def _sections(d: Diff) -> list[tuple[str, list[Change]]]:
    judged = [c for c in d.rows if NOT_IN_PLAN not in (c.before, c.after)]
    return [("checks whose outcome changed", judged),
            ("checks judged only before (the plan changed with the step)",
             [c for c in d.rows if c.after == NOT_IN_PLAN]),
            ("checks judged only after", [c for c in d.rows if c.before == NOT_IN_PLAN]),
            ("facts that changed", d.facts)]


def text(d: Diff) -> str:
    lines = [f"geopreflight diff: {d.before.source} -> {d.after.source}"]
    lines += [c.line() if c.before != c.after else f"{c.what}: {c.before} (unchanged)"
              for c in d.header]
    for title, changes in _sections(d):
        if title.startswith("checks judged only"):
            if changes:
                lines.append(f"{title}: " + ", ".join(
                    f"{c.what} ({c.before if c.after == NOT_IN_PLAN else c.after})"
                    for c in changes))
            continue
        lines.append(f"{title} ({len(changes)}):" if changes else f"{title}: none")
        lines += [f"  {c.line()}" for c in changes]
    return "\n".join(map(for_terminal, lines))


def _cell(value: Any) -> str:
    return markdown_cell(str(value))


def markdown(d: Diff) -> str:
    """For a merge request or a change record: every value from a run is one escaped cell
    (or one escaped span), so a value cannot end its row, add a heading, an image or HTML."""
    out = ["### geopreflight: what changed", "",
           f"Before: {_cell(d.before.source)} ({_cell(d.before.summary.get('started_at'))}), "
           f"after: {_cell(d.after.source)} ({_cell(d.after.summary.get('started_at'))})", "",
           "| | before | after |", "|---|---|---|"]
    out += [f"| {_cell(c.what)} | {_cell(c.before)} | {_cell(c.after)} |" for c in d.header]
    for title, changes in _sections(d):
        if title.startswith("checks judged only") and not changes:
            continue
        out += ["", f"#### {title[0].upper()}{title[1:]}", ""]
        if not changes:
            out.append("None.")
            continue
        out += ["| what | before | after |", "|---|---|---|"]
        out += [f"| {_cell(c.what)} | {_cell(c.before)} | {_cell(c.after)} |" for c in changes]
    return "\n".join(out)


def as_json(d: Diff) -> str:
    def side(r: Run) -> dict[str, Any]:
        return {"source": r.source, "profile": r.summary.get("profile"), "step": r.position,
                "verdict": r.summary.get("verdict"), "started_at": r.summary.get("started_at")}

    return json.dumps({"before": side(d.before), "after": side(d.after),
                       "rows": [{**c.key, "before": c.before, "after": c.after} for c in d.rows],
                       "facts": [{**c.key, "what": c.what, "before": c.before, "after": c.after}
                                 for c in d.facts]}, indent=2)


RENDER = {"text": text, "markdown": markdown, "json": as_json}


def render(before: str, after: str, fmt: str = "text") -> str:
    """The diff of two runs in one of FORMATS."""
    return RENDER[fmt](compare(load_run(before), load_run(after)))
