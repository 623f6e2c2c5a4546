"""What one run's reports say, gathered once and already redacted: every writer (terminal,
summary.json, JUnit, HTML, facts.json) reads this and nothing else of the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..catalog import Result
from ..i18n import _
from ..inventory import Inventory
from ..position import StepStatus
from ..profiles import Profile, Row
from ..verdict import Verdict


@dataclass
class RunReport:
    """Everything a report writer needs, already redacted."""

    profile: Profile
    requested_step: str
    step: str | None
    verdict: Verdict
    exit_code: int
    started_at: datetime
    duration_s: float
    inventory: Inventory
    statuses: dict[str, StepStatus]
    rows: list[tuple[Row, Result]]
    facts: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    deselected: frozenset[str] = frozenset()  # rows -k/-m removed (test ids)
    next: list[Any] = field(default_factory=list)  # guidance.Action: READY and IN PROGRESS
    html_path: str = ""  # where report.html ends up, for the JUnit cases to point at
    # before an import step, the estimate per site and phase (window.Planned.as_json rows)
    estimate: list[dict[str, Any]] = field(default_factory=list)
    # every finished import phase the registries recorded (window.measured)
    measured: list[dict[str, Any]] = field(default_factory=list)

    def content(self) -> list[dict[str, Any]]:
        """Per site, the content counts that prove (or disprove) an import: the legacy
        storage's and the metadata DB's repositories and tags, as the facts recorded them
        (None where a side could not be read; `database` None also when it has no tables),
        and `moved_from`'s (the old database, DB-011) for a site whose inventory names it."""
        def counts(key: str, site: str) -> dict[str, Any] | None:
            fact = next((f for f in self.facts if f["key"] == key and f["site"] == site), None)
            value = fact.get("value") if fact and not fact.get("error") else None
            if not value:
                return None
            return {k: value[k] for k in ("read", "repositories", "tags") if k in value}

        names = [s.name for s in self.inventory.sites]
        out = [{"site": n, "storage": counts("storage.content", n),
                "database": counts("db.content", n)} for n in names]
        for c in out:  # the database it was moved from, where the inventory names one
            if any(f["key"] == "db.content_moved_from" and f["site"] == c["site"]
                   for f in self.facts):
                c["moved_from"] = counts("db.content_moved_from", c["site"])
        return [c for c in out if c["storage"] or c["database"]]

    @property
    def step_label(self) -> str:
        if self.step:
            return f"{self.step} ({self.profile.index(self.step) + 1}/{len(self.profile.steps)})"
        return _("(all steps)") if self.verdict == Verdict.COMPLETE else _("(position unknown)")


def fix_of(row: Row, result: Result) -> str:
    """The fix to show for a row: the one for the deployment's state, else the check's."""
    return result.fix or _(row.check.remediation)
