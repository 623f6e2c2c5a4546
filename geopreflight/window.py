"""The change window from a run's facts: the estimate's inputs (what each site will import, its
storage backend, the finished imports to calibrate on) and the measured duration of each
finished import phase. `estimate.py` does the arithmetic; this module only reads facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .estimate import Content, Estimate, Run, estimate, runs_of
from .facts import Fact, FactError, Facts
from .inventory import Inventory
from .profiles import Step

IMPORT_STARTED = "IMP-003"  # the `started` check of the import steps


class Unknown(Exception):
    """The estimate cannot be made for a site; the message says what is missing."""


def is_import_step(step: Step | None) -> bool:
    return step is not None and any(e.check.id == IMPORT_STARTED for e in step.started)


def _site_facts(facts: Facts, key: str, site: str) -> list[Any]:
    """A site's values of a fact, whether gathered once per site or once per node."""
    return [f.value for f in facts.all() if f.key == key and f.site == site and not f.error]


def statistics(facts: Facts, site: str) -> Any:
    """The site's `db.import_statistics` (models.ImportStatistics); Unknown when unread."""
    try:
        return facts.value("db.import_statistics", site)
    except FactError as exc:
        raise Unknown(f"{site}: the import statistics cannot be read: {exc}") from None


def runs(facts: Facts, site: str) -> list[Run]:
    """A site's finished import phases; none when its statistics were not read."""
    try:
        return runs_of(site, statistics(facts, site).runs)
    except Unknown:
        return []


def backend(facts: Facts, site: str) -> str:
    """The registry's storage driver from its config.yml (`unknown` when unread)."""
    for host in _site_facts(facts, "host.config", site):
        driver = getattr(getattr(host, "config_yml", None), "storage_backend", None)
        if driver:
            return str(driver)
    return "unknown"


def content(facts: Facts, inventory: Inventory, site: str) -> Content:
    """What `site` will import: its legacy storage counted (`storage.content`); else its own
    finished tag import's count; else another site's, since Geo replicates the primary's
    registry to each secondary (the basis says whose count it is)."""
    if facts.has("storage.content", site) and not facts.get("storage.content", site).error:
        stored = facts.value("storage.content", site)
        if stored is not None:
            return Content(tags=stored.tags, repositories=stored.repositories,
                           source=f"{site}'s legacy storage ({stored.read})")
    own = [r for r in runs_of(site, statistics(facts, site).runs)
           if r.phase in ("import", "step-two")]
    if own:
        return Content(tags=own[0].tags, source=f"{site}'s own finished import")
    for other in inventory.sites:
        done = [r for r in runs(facts, other.name) if r.phase in ("import", "step-two")]
        if other.name != site and done:
            return Content(tags=done[0].tags,
                           source=f"{other.name}'s finished import (Geo replicates the same "
                                  "images to every site)")
    why = facts.get("storage.content", site).error or "not counted"
    raise Unknown(f"{site}: the number of tags to import is unknown (the legacy storage: "
                  f"{why}; no site has finished an import yet)")


def calibration_facts(bundle: Any) -> list[Fact]:
    """A previous run's import statistics (an evidence.Bundle, already verified against its
    SHA256SUMS) as this run's `calibration.import_statistics` facts, so facts.json records
    what the estimate rested on."""
    return [Fact("calibration.import_statistics", f.site, f.value, source=(
                f"evidence bundle {bundle.path}: {f.site}'s import_statistics of "
                f"{f.started_at or 'an unknown time'}"), started_at=f.started_at)
            for f in bundle.facts().all()
            if f.key == "db.import_statistics" and not f.error and f.site]


def previous(facts: Facts) -> list[Run]:
    """The finished import phases of a previous run's bundle (`--calibrate-from`)."""
    return [r for f in facts.all() if f.key == "calibration.import_statistics" and not f.error
            for r in runs_of(f.site or "?", f.value.runs, source=f.source)]


def site_estimate(facts: Facts, inventory: Inventory, site: str, method: str) -> Estimate:
    """The estimate of one site's import by `method`; Unknown when it cannot be made (the
    tags to import are unknown, or the site's own import statistics cannot be read)."""
    statistics(facts, site)
    what = content(facts, inventory, site)
    others = [r for s in inventory.sites if s.name != site for r in runs(facts, s.name)]
    found = estimate(site, what, backend(facts, site), method, own=runs(facts, site),
                     others=others, previous=previous(facts))
    return Estimate(found.site, found.method, tuple(
        type(p)(p.site, p.phase, p.low_s, p.high_s, f"{p.basis}; counts: {what.source}")
        for p in found.phases))


@dataclass(frozen=True)
class Planned:
    """The estimate of the judged import step: per site, the estimate or why there is none."""

    step: str
    method: str
    estimates: tuple[Estimate, ...]
    unknown: tuple[str, ...]

    def as_json(self) -> list[dict[str, Any]]:
        """summary.json's `estimate`: per site and phase, `low_s`, `high_s` and `basis`."""
        return [{"site": p.site, "phase": p.phase, "read_only": p.read_only,
                 "low_s": p.low_s, "high_s": p.high_s, "basis": p.basis}
                for e in self.estimates for p in e.phases]


def planned(facts: Facts, inventory: Inventory, step: Step | None, sites: list[str],
            method: str) -> Planned | None:
    """Before an import step: the estimate for each site it still has to import (a site whose
    tag import has finished is measured, no longer estimated)."""
    if not is_import_step(step) or not sites:
        return None
    assert step is not None
    found, unknown = [], []
    for site in sites:
        if any(r.phase in ("import", "step-two") for r in runs(facts, site)):
            continue
        try:
            found.append(site_estimate(facts, inventory, site, method))
        except Unknown as exc:
            unknown.append(str(exc))
    return Planned(step.id, method, tuple(found), tuple(unknown))


def measured(facts: Facts, inventory: Inventory) -> list[dict[str, Any]]:
    """Every finished import phase of every site, as the registry recorded it: what the next
    site's estimate and an auditor use."""
    return [{"site": r.site, "phase": r.phase, "seconds": round(r.seconds, 3), "tags": r.tags,
             "storage_driver": r.driver, "source": r.source}
            for s in inventory.sites for r in runs(facts, s.name)]
