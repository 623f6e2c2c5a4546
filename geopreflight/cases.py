"""Unit cases for checks: recorded facts, a small patch, the outcome the check must give.

A check's cases sit beside it (`checks/cases_<area>.py`, a table `CASES`); each names a
recorded run (`checks/recorded/<base>.json`, a run's `facts.json`, with the
`<base>.inventory.yml` the lab wrote) and a patch of fact values. Cases need no lab, no
network and no secrets: the recorded inventory loads with secrets as placeholders, as an
evidence bundle's does, and the facts load through `Facts.from_dicts` from plain JSON.

The patch language: a dict from a path to a new value, applied in order.

- A path is `(fact_key, site, *steps)`; `site` is a site name or None (a deployment-wide
  fact), or `site/host` for a host fact of one node of the site's `hosts:` (a Case's `site`
  may name a node the same way: the row of that node). A step is a dict key, a list index
  (int), or `"field=value"`, which picks the list
  element whose `field` reads `value` (`"geo_node_id=2"`, `"name=us-secondary"`).
- The value is plain JSON data, or one of the markers: `FAILED("why")` makes the fact failed
  (its `error` set, its value gone; path `(key, site)` only), `REMOVE` deletes the key (or,
  at `(key, site)`, the whole fact: not gathered), `NOW(seconds)` is the current Unix time
  plus `seconds` (for status ages, which checks judge against the clock), `SAME_AS(path)`
  is the value found at another path of the facts (optionally through a format such as
  `"http://{}"`), so a case says "the primary's identifier" rather than copying a recorded
  number.
- A path to a fact that is not recorded creates it (a canary fact on a run without one),
  and so does a last step naming a field the recorded dict lacks (`problem`, `error`); every
  other step must exist, so a mistyped path is a `PatchError`, not a silent no-op.

>>> facts = [{"key": "db.server", "site": "b", "value": {"in_recovery": False}}]
>>> patch_facts(facts, {("db.server", "b", "in_recovery"): True})[0]["value"]
{'in_recovery': True}
>>> patch_facts(facts, {("db.server", "b"): FAILED("timeout")})[0]["error"]
'timeout'
>>> patch_facts([{"key": "s", "site": None, "value": [{"id": 1, "ok": 1}]}],
...             {("s", None, "id=1", "ok"): REMOVE})[0]["value"]
[{'id': 1}]
"""

from __future__ import annotations

import copy
import importlib
import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .catalog import CATALOG, Result
from .facts import Facts
from .inventory import Inventory, load_inventory_text
from .outcomes import Evaluations

OUTCOMES = ("pass", "fail", "warn", "error", "not-applicable")
PatchPath = tuple[Any, ...]


@dataclass(frozen=True)
class FAILED:  # noqa: N801 - a marker of the patch language, read like a constant
    """Patch marker: the fact failed with this error (the probe could not gather it)."""

    why: str


@dataclass(frozen=True)
class NOW:  # noqa: N801
    """Patch marker: the current Unix time plus `seconds` (negative: in the past)."""

    seconds: float = 0.0


@dataclass(frozen=True)
class SAME_AS:  # noqa: N801
    """Patch marker: the value at another path of the facts, optionally `fmt`-formatted."""

    path: tuple[Any, ...]
    fmt: str = "{}"


class _Remove:
    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()


@dataclass(frozen=True)
class Case:
    """One unit case: `check_id` on `site` (None: the deployment) of the recorded `base`,
    with `patch` applied, must give `expected_outcome`; `why` says what it pins down."""

    check_id: str
    expected_outcome: str
    site: str | None
    base: str
    patch: dict[PatchPath, Any]
    why: str
    message: str = ""  # a substring the result's message must contain, when given
    name: str = ""     # the test id's tail; the base's name when empty

    @property
    def id(self) -> str:
        return f"{self.check_id}-{self.expected_outcome}-{self.name or self.base}"


class PatchError(ValueError):
    """A patch path that does not lead anywhere in the recorded facts."""


def _step(node: Any, step: Any, path: PatchPath) -> Any:
    """The child of `node` at `step` (a key, an index, or `field=value`)."""
    if isinstance(node, list) and isinstance(step, str) and "=" in step:
        name, _, want = step.partition("=")
        found = [x for x in node if isinstance(x, dict) and str(x.get(name)) == want]
        if len(found) != 1:
            raise PatchError(f"{path}: {step!r} picks {len(found)} elements, expected 1")
        return found[0]
    try:
        return node[step]
    except (KeyError, IndexError, TypeError):
        raise PatchError(f"{path}: no {step!r} in the recorded value") from None


def _is(fact: dict[str, Any], key: str, where: str | None) -> bool:
    """Whether a recorded fact is `key` of `where` (a site, `site/host`, or None)."""
    site, _, host = (where or "").partition("/")
    return fact["key"] == key and fact["site"] == (site if where is not None else None) \
        and fact.get("host") == (host or None)


def _get(facts: list[dict[str, Any]], path: PatchPath) -> Any:
    fact = next((f for f in facts if _is(f, path[0], path[1])), None)
    if fact is None:
        raise PatchError(f"{path}: no recorded fact {path[0]} for {path[1]}")
    node = fact["value"]
    for step in path[2:]:
        node = _step(node, step, path)
    return node


def _resolve(value: Any, facts: list[dict[str, Any]]) -> Any:
    if isinstance(value, NOW):
        return time.time() + value.seconds
    if isinstance(value, SAME_AS):
        found = _get(facts, value.path)
        return found if value.fmt == "{}" else value.fmt.format(found)
    return value


def _set(fact: dict[str, Any], steps: PatchPath, value: Any, path: PatchPath,
         facts: list[dict[str, Any]]) -> None:
    if not steps:
        if isinstance(value, FAILED):
            fact.update(value=None, error=value.why)
        else:
            fact.update(value=copy.deepcopy(_resolve(value, facts)), error=None)
        return
    if isinstance(value, FAILED):
        raise PatchError(f"{path}: FAILED applies to a whole fact, (key, site)")
    node = fact["value"]
    for step in steps[:-1]:
        node = _step(node, step, path)
    last = steps[-1]
    if value is REMOVE:
        _step(node, last, path)  # must exist
        del node[last]
    elif isinstance(node, list) and isinstance(last, str) and "=" in last:
        raise PatchError(f"{path}: replace a picked element's fields, not the element")
    else:
        if isinstance(node, list):
            _step(node, last, path)
        elif not isinstance(node, dict):
            raise PatchError(f"{path}: {type(node).__name__} has no fields")
        node[last] = copy.deepcopy(_resolve(value, facts))


def patch_facts(facts: list[dict[str, Any]], patch: dict[PatchPath, Any]) -> list[dict[str, Any]]:
    """A patched deep copy of fact dicts (the JSON shape of facts.json's `facts`)."""
    out = copy.deepcopy(facts)
    for path, value in patch.items():
        if len(path) < 2:
            raise PatchError(f"{path}: a path starts with (fact key, site)")
        key, site, steps = path[0], path[1], tuple(path[2:])
        fact = next((f for f in out if _is(f, key, site)), None)
        if value is REMOVE and not steps:
            if fact is None:
                raise PatchError(f"{path}: no such recorded fact to remove")
            out.remove(fact)
            continue
        if fact is None:
            if steps:
                raise PatchError(f"{path}: no recorded fact {key} for {site}")
            name, _, node = (site or "").partition("/")
            fact = {"key": key, "site": name if site is not None else None,
                    **({"host": node} if node else {}), "value": None, "error": None,
                    "source": "a case's patch", "started_at": "", "duration_s": 0.0}
            out.append(fact)
        _set(fact, steps, value, path, out)
    return out


@cache
def _recorded(recorded: Path, base: str) -> tuple[str, str]:
    """The recorded run's facts.json and inventory.yml, as text (read once per base)."""
    return ((recorded / f"{base}.json").read_text(),
            (recorded / f"{base}.inventory.yml").read_text())


def load_base(recorded: Path, base: str) -> tuple[Inventory, list[dict[str, Any]]]:
    """A recorded run: its inventory (secrets are placeholders) and its fact dicts."""
    facts_text, inventory_text = _recorded(recorded, base)
    inventory = load_inventory_text(inventory_text, str(recorded / f"{base}.inventory.yml"),
                                    resolve_secrets=False)
    return inventory, json.loads(facts_text)["facts"]


def run_case(case: Case, recorded: Path) -> Result:
    """Evaluate the case's check on its patched recorded facts, as the plugin would."""
    inventory, facts = load_base(recorded, case.base)
    meta = CATALOG.get(case.check_id)
    if meta is None:
        raise KeyError(f"{case.id}: {case.check_id} is not in the catalog")
    names = [s.name for s in inventory.sites]
    name, _, host = (case.site or "").partition("/")
    if case.site is not None and name not in names:
        raise KeyError(f"{case.id}: no site {name!r} in {case.base} ({', '.join(names)})")
    site = inventory.site(name) if case.site is not None else None
    facts_of_case = Facts.from_dicts(patch_facts(facts, case.patch))
    return Evaluations(inventory, facts_of_case, "", time.time())(
        meta, (meta.id, site.name if site else None, host or None))


def problems(case: Case) -> list[str]:
    """What is wrong with a case itself, before it runs."""
    out = []
    if case.expected_outcome not in OUTCOMES:
        out.append(f"{case.id}: outcome must be one of {', '.join(OUTCOMES)}")
    if not case.why.strip():
        out.append(f"{case.id}: say why the case exists")
    return out


@dataclass(frozen=True)
class Table:
    """Every case of a checks directory, and the checks whose only finding is an error."""

    cases: tuple[Case, ...]
    error_only: dict[str, str]  # check id -> why it never fails or warns, only errors
    recorded: Path

    def outcomes(self) -> dict[str, set[str]]:
        """The outcomes the cases pin down, per check id."""
        out: dict[str, set[str]] = {}
        for c in self.cases:
            out.setdefault(c.check_id, set()).add(c.expected_outcome)
        return out


def load_table(directory: Path, package: str) -> Table:
    """Import `<package>.cases_*` from `directory` (the checks) and gather their tables.

    A module holds `CASES: list[Case]` and may hold `ERROR_ONLY: dict[str, str]`, the checks
    that can only pass or be an error (the error case is then their failing case).
    """
    cases: list[Case] = []
    error_only: dict[str, str] = {}
    for path in sorted(directory.glob("cases_*.py")):
        module = importlib.import_module(f"{package}.{path.stem}")
        cases.extend(module.CASES)
        error_only.update(getattr(module, "ERROR_ONLY", {}))
    return Table(tuple(cases), error_only, directory / "recorded")


# Paths into the recorded facts' JSON that many cases patch (shorthands, nothing more).
def rb(site: str, *steps: Any) -> PatchPath:
    """A literal setting of the site's gitlab.rb."""
    return ("host.config", site, "gitlab_rb", "values", *steps)


def config_yml(site: str, *steps: Any) -> PatchPath:
    """The summary of the site's rendered registry config.yml."""
    return ("host.config", site, "config_yml", *steps)


def host(site: str, *steps: Any) -> PatchPath:
    """The site's host files (gitlab.rb, cluster json, config.yml, gitlab.yml, lockfiles)."""
    return ("host.config", site, *steps)


def db(site: str, *steps: Any) -> PatchPath:
    """The site's registry metadata database server."""
    return ("db.server", site, *steps)


def geo_site(geo_id: int, *steps: Any) -> PatchPath:
    """A Geo site of the Geo sites API, by its id."""
    return ("geo.sites", None, f"id={geo_id}", *steps)


def geo_status(geo_id: int, *steps: Any) -> PatchPath:
    """A Geo site's status, by its Geo site id."""
    return ("geo.statuses", None, f"geo_node_id={geo_id}", *steps)
