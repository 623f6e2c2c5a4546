"""Run the probes once each, concurrently across sites, and keep what they saw as facts.

A fact is a value with its provenance: where it came from (URL, query, file), when, how long
it took, and the error if it failed. Checks read facts; a failed fact makes the check that
needs it an error, never a pass.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from .http import Http, Unreachable
from .inventory import Inventory, Site
from .probes import PROBES, Probe, ProbeContext, ProbeError
from .redact import Redactor

MAX_WORKERS = 16


class FactError(Exception):
    """A check asked for a fact that could not be gathered; the message says why."""


@dataclass
class Fact:
    key: str
    site: str | None
    value: Any = None
    error: str | None = None
    source: str = ""
    started_at: str = ""
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Facts:
    """All facts of one run, by (key, site)."""

    def __init__(self, facts: list[Fact]) -> None:
        self._facts = {(f.key, f.site): f for f in facts}

    def get(self, key: str, site: str | None = None) -> Fact:
        fact = self._facts.get((key, site))
        if fact is None:
            return Fact(key, site, error=f"the fact {key} was not gathered")
        return fact

    def value(self, key: str, site: str | None = None) -> Any:
        """The fact's value; a failed fact raises FactError with its reason."""
        fact = self.get(key, site)
        if fact.error:
            raise FactError(fact.error)
        return fact.value

    def has(self, key: str, site: str | None = None) -> bool:
        """Whether the fact was gathered at all (an optional probe such as the canary)."""
        return (key, site) in self._facts

    def all(self) -> list[Fact]:
        return list(self._facts.values())

    def extended(self, more: list[Fact]) -> Facts:
        return Facts(self.all() + more)

    @classmethod
    def from_dicts(cls, items: list[dict[str, Any]]) -> Facts:
        return cls([Fact(**item) for item in items])


def _observe(probe: Probe, pc: ProbeContext, site: Site | None, redactor: Redactor) -> Fact:
    name = site.name if site else None
    started = datetime.now(UTC)
    t0 = time.monotonic()
    fact = Fact(probe.key, name, started_at=started.isoformat().replace("+00:00", "Z"))
    try:
        fact.value, fact.source = probe.func(pc, site)
        fact.value = redactor.data(fact.value)
    except (ProbeError, Unreachable) as exc:
        fact.error = redactor.text(str(exc))
        fact.source = redactor.text(getattr(exc, "source", "") or "")
    except Exception as exc:  # noqa: BLE001 - a probe bug is that fact's error, not a crash
        first = (str(exc).splitlines() or [""])[0]
        fact.error = redactor.text(f"probe {probe.key} failed: {type(exc).__name__}: {first}")
    fact.source = redactor.text(fact.source)
    fact.duration_s = round(time.monotonic() - t0, 4)
    return fact


def load_probes() -> None:
    """Import every module of `probes/`: importing a module registers its probes."""
    import importlib
    import pkgutil

    from . import probes

    for mod in pkgutil.iter_modules(probes.__path__):
        importlib.import_module(f"{probes.__name__}.{mod.name}")


def gather(inventory: Inventory, redactor: Redactor, probes: list[Probe] | None = None,
           http: Http | None = None) -> Facts:
    """Run every probe for every site it applies to, concurrently, each request once."""
    load_probes()
    http = http or Http(inventory.timeouts.connect_s, inventory.timeouts.read_s)
    pc = ProbeContext(inventory, http)
    tasks = [(p, s) for p in (probes if probes is not None else PROBES)
             for s in (inventory.sites if p.scope == "site" else (None,))]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, max(1, len(tasks))),
                            thread_name_prefix="probe") as pool:
        facts = list(pool.map(lambda t: _observe(t[0], pc, t[1], redactor), tasks))
    return Facts(facts)
