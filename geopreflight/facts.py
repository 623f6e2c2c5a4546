"""Run the probes once each, concurrently across sites, and keep what they saw as facts.

A fact is a value with its provenance: where it came from (URL, query, file), when, how long
it took, and the error if it failed. Checks read facts; a failed fact makes the check that
needs it an error, never a pass.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .errors import UsageError
from .failures import Kind, ProbeFailure
from .http import Http, Unreachable
from .inventory import Inventory, Site
from .probes import PROBES, Probe, ProbeContext, ProbeError
from .probes.codec import ShapeError, from_json, to_json
from .probes.models import FACT_MODELS
from .redact import Redactor

# The most one fact's value may weigh as JSON. The largest real ones (100 Geo sites and their
# statuses, a node's configuration summary) are a few hundred KiB; a value beyond this came
# from a hostile or broken source and would bloat facts.json and the bundle.
FACT_CAP = 2 * 1024 * 1024
# Probes mostly wait on the network: with 8 sites the ~80 tasks must not queue behind a pool
# of a few threads, or a far-away site's round trips add up (scripts/bench --matrix).
MAX_WORKERS = 64


class FactError(Exception):
    """A check asked for a fact that could not be gathered; the message says why."""


class FactShapeError(UsageError):
    """A recorded fact does not fit its model: exit 4, naming the fact and the field (never
    the value, which may be anything)."""

    def __init__(self, key: str, site: str | None, field: str, expected: str,
                 file: str = "facts.json") -> None:
        where = f"fact {key}" + (f" of {site}" if site else "")
        super().__init__(f"{where}: {field}: {expected}", file=file)
        self.key, self.site, self.field = key, site, field


@dataclass(frozen=True)
class Fact:
    """A probe's typed model (see probes/models.py) with its provenance."""

    key: str
    site: str | None
    value: Any = None
    error: str | None = None
    source: str = ""
    started_at: str = ""
    duration_s: float = 0.0
    host: str | None = None  # the node of the site's `hosts:` a host fact was read on
    failure: ProbeFailure | None = None  # `error` as fields (None in bundles from before)

    def as_dict(self) -> dict[str, Any]:
        """The fact as facts.json holds it: the model's JSON form as `value`; `host` only
        for a node of `hosts:`, so a single-host run's facts.json is as before; `failure`
        only for a failed fact."""
        return {"key": self.key, "site": self.site,
                **({"host": self.host} if self.host is not None else {}),
                "value": to_json(self.value),
                "error": self.error,
                **({"failure": self.failure.as_dict()} if self.failure is not None else {}),
                "source": self.source, "started_at": self.started_at,
                "duration_s": self.duration_s}


class Facts:
    """All facts of one run, by (key, site)."""

    def __init__(self, facts: list[Fact]) -> None:
        self._facts = {(f.key, f.site, f.host): f for f in facts}
        self._node_keys = {f.key for f in facts if f.host is not None}

    def get(self, key: str, site: str | None = None, host: str | None = None) -> Fact:
        fact = self._facts.get((key, site, host))
        if fact is None:
            on = f" on host {host}" if host else ""
            return Fact(key, site, error=f"the fact {key} was not gathered{on}", host=host)
        return fact

    def value(self, key: str, site: str | None = None, host: str | None = None) -> Any:
        """The fact's value; a failed fact raises FactError with its reason."""
        fact = self.get(key, site, host)
        if fact.error:
            raise FactError(fact.error)
        return fact.value

    def per_node(self, key: str) -> bool:
        """Whether `key` was gathered per node of `hosts:` (its facts name their host)."""
        return key in self._node_keys

    def has(self, key: str, site: str | None = None, host: str | None = None) -> bool:
        """Whether the fact was gathered at all (an optional probe such as the canary)."""
        return (key, site, host) in self._facts

    def all(self) -> list[Fact]:
        return list(self._facts.values())

    def extended(self, more: list[Fact]) -> Facts:
        return Facts(self.all() + more)

    @classmethod
    def from_dicts(cls, items: list[dict[str, Any]], file: str = "facts.json") -> Facts:
        """Recorded facts (facts.json) as typed facts; FactShapeError where one does not fit."""
        return cls([_load(item, file) for item in items])


FIELDS = ("key", "site", "host", "value", "error", "failure", "source", "started_at",
          "duration_s")


def _load(item: Any, file: str) -> Fact:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str):
        raise FactShapeError("(unnamed)", None, "key", "expected a fact with a string key",
                             file)
    key, site = item["key"], item.get("site")
    extra = sorted(set(item) - set(FIELDS))
    if extra:
        raise FactShapeError(key, None, extra[0], "not a field of a fact", file)
    if site is not None and not isinstance(site, str):
        raise FactShapeError(key, None, "site", "expected a site name or null", file)
    if item.get("host") is not None and not isinstance(item["host"], str):
        raise FactShapeError(key, site, "host", "expected a host name or null", file)
    if key not in FACT_MODELS:
        raise FactShapeError(key, site, "key", "not a fact geopreflight knows; expected one "
                             "of " + ", ".join(FACT_MODELS), file)
    for name, kind in (("error", str), ("source", str), ("started_at", str)):
        if item.get(name) is not None and not isinstance(item[name], kind):
            raise FactShapeError(key, site, name, "expected a string", file)
    duration = item.get("duration_s", 0.0)
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        raise FactShapeError(key, site, "duration_s", "expected a number", file)
    failure = None
    if item.get("failure") is not None:
        try:
            failure = ProbeFailure.from_dict(item["failure"])
        except ValueError as exc:
            raise FactShapeError(key, site, "failure", str(exc), file) from None
    value = None
    if not (item.get("error") and item.get("value") is None):
        try:
            value = from_json(FACT_MODELS[key], item.get("value"))
        except ShapeError as exc:
            raise FactShapeError(key, site, "value" + (f".{exc.path}" if exc.path else ""),
                                 exc.expected, file) from None
    return Fact(key, site, value, item.get("error"), item.get("source") or "",
                item.get("started_at") or "", float(duration), item.get("host"), failure)


def observe(probe: Probe, pc: ProbeContext, site: Site | None, redactor: Redactor) -> Fact:
    """Run one probe for one site (or the deployment): its typed, redacted value, or the
    error that stopped it, with where, when and how long. Never raises."""
    name = site.name if site else None
    started = datetime.now(UTC)
    t0 = time.monotonic()
    node = site.host.name if probe.scope == "host" and site and site.host else None
    fact = Fact(probe.key, name, started_at=started.isoformat().replace("+00:00", "Z"),
                host=node)
    try:
        value, source = probe.func(pc, site)
        data = redactor.data(to_json(value))
        size = len(json.dumps(data))
        if size > FACT_CAP:
            why = (f"the fact {probe.key} would hold {size / 2**20:.1f} MiB, over the "
                   f"{FACT_CAP // 2**20} MiB cap on one fact (a source far larger than any "
                   "real one): not recorded")
            raise ProbeError(why, source, ProbeFailure(Kind.TOO_LARGE, why, source))
        fact = replace(fact, source=source, value=from_json(FACT_MODELS[probe.key], data))
    except (ProbeError, Unreachable) as exc:
        fact = replace(fact, error=redactor.text(str(exc)),
                       failure=exc.failure.redacted(redactor.text),
                       source=getattr(exc, "source", "") or "")
    except ShapeError as exc:
        why = f"probe {probe.key} observed a value that does not fit its model: {exc}"
        fact = replace(fact, error=why, failure=ProbeFailure(Kind.PARSE, why))
    except Exception as exc:  # noqa: BLE001 - a probe bug is that fact's error, not a crash
        first = (str(exc).splitlines() or [""])[0]
        why = redactor.text(f"probe {probe.key} failed: {type(exc).__name__}: {first}")
        fact = replace(fact, error=why, failure=ProbeFailure(Kind.OTHER, why))
    return replace(fact, source=redactor.text(fact.source),
                   duration_s=round(time.monotonic() - t0, 4))


def load_probes() -> None:
    """Import every module of `probes/`: importing a module registers its probes."""
    import importlib
    import pkgutil

    from . import probes

    for mod in pkgutil.iter_modules(probes.__path__):
        importlib.import_module(f"{probes.__name__}.{mod.name}")


def _nodes(site: Site) -> list[Site]:
    """A host probe's tasks: the site once per node, each with that node as its `host`
    (a site with no host once, so its fact says why it cannot be read)."""
    return [replace(site, host=h) for h in site.hosts] or [site]


def gather(inventory: Inventory, redactor: Redactor, probes: list[Probe] | None = None,
           http: Http | None = None,
           on_fact: Callable[[Fact, list[tuple[str, str | None]]], None] | None = None
           ) -> Facts:
    """Run every probe for every site it applies to, concurrently, each request once.
    `on_fact` is told of each fact as its probe ends (from the probe's thread), with every
    (key, site) of this gathering, so the terminal can show progress."""
    load_probes()
    http = http or Http(inventory.timeouts.connect_s, inventory.timeouts.read_s)
    pc = ProbeContext(inventory, http)
    tasks = [(p, s) for p in (probes if probes is not None else PROBES)
             for s in ([x for x in inventory.sites if p.applies is None or p.applies(x)]
                       if p.scope == "site" else
                       [n for site in inventory.sites for n in _nodes(site)]
                       if p.scope == "host" else (None,))]
    planned = [(p.key, s.name if s else None) for p, s in tasks]

    def one(task: tuple[Probe, Site | None]) -> Fact:
        fact = observe(task[0], pc, task[1], redactor)
        if on_fact is not None:
            on_fact(fact, planned)
        return fact

    pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, max(1, len(tasks))),
                              thread_name_prefix="probe")
    try:
        facts = list(pool.map(one, tasks))
    except BaseException as exc:  # Ctrl-C: end every blocked read now, wait for none of them
        http.stops.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        if isinstance(exc, KeyboardInterrupt) and \
                threading.current_thread() is threading.main_thread():
            # the run now ends within a second: a second Ctrl-C must not cut that short
            # (an exit by signal instead of pytest's 2, "interrupted")
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise
    else:
        pool.shutdown()
    finally:
        pc.close()  # also ends an SSH master, and with it every read through it
    return Facts(facts)
