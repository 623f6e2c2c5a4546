"""Outcomes -> the step's position and verdict -> the exit code.

| verdict          | exit | when                                                    |
|------------------|------|---------------------------------------------------------|
| READY            | 0    | every blocking row passed (warnings allowed)            |
| COMPLETE         | 0    | --step=auto and every step of the profile is complete   |
| NOT_READY        | 1    | at least one blocking row failed                        |
| CANNOT_DETERMINE | 6    | no blocking row failed, at least one could not evaluate |

>>> from geopreflight.catalog import Result
>>> decide([(True, Result("pass", "")), (False, Result("error", ""))])
'READY'
>>> decide([(True, Result("error", "")), (True, Result("fail", ""))])
'NOT_READY'
>>> decide([(True, Result("waived", "")), (True, Result("error", ""))])
'CANNOT_DETERMINE'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .catalog import Result
from .profiles import Profile, Row, rows

EXIT_CODES = {"READY": 0, "COMPLETE": 0, "NOT_READY": 1, "CANNOT_DETERMINE": 6}
PASSING = ("pass", "waived", "not-applicable")


def final(row: Row, result: Result) -> Result:
    """A failed advisory row is a warning; nothing else changes."""
    if not row.blocking and result.outcome == "fail":
        return Result("warn", result.message, result.observed, result.expected)
    return result


def decide(outcomes: list[tuple[bool, Result]]) -> str:
    """The verdict of (blocking, result) pairs: a failure beats an error beats a pass."""
    blocking = [r.outcome for b, r in outcomes if b]
    if "fail" in blocking:
        return "NOT_READY"
    if "error" in blocking:
        return "CANNOT_DETERMINE"
    return "READY"


@dataclass
class Position:
    """Where the deployment stands in the profile (`--step=auto`)."""

    statuses: dict[str, str]           # step id -> complete | next | pending | unknown
    next_step: str | None              # None: COMPLETE, or unknown
    undetermined: list[str] = field(default_factory=list)  # why the position is unknown

    @property
    def complete(self) -> bool:
        return self.next_step is None and not self.undetermined


def locate(profile: Profile, inventory, judge: Callable[[Row], Result]) -> Position:
    """The next step is the one after the last step whose `completes` rows all pass.

    Walk back from the last step: a complete step fixes the position; a step whose rows
    cannot be evaluated (and none failed) leaves it unknown; a step with a failed row is not
    complete, so look further back. A step without `completes` is never complete.
    """
    ids = [s.id for s in profile.steps]
    for k in range(len(profile.steps) - 1, -1, -1):
        step = profile.steps[k]
        if not step.completes:
            continue
        results = [(row, judge(row)) for row in rows(step.completes, inventory, blocking=True)]
        outcomes = [r.outcome for _, r in results]
        if results and all(o in PASSING for o in outcomes):
            statuses = {sid: "complete" if i <= k else "pending" for i, sid in enumerate(ids)}
            if k + 1 < len(ids):
                statuses[ids[k + 1]] = "next"
                return Position(statuses, ids[k + 1])
            return Position(statuses, None)
        if "fail" not in outcomes and "error" in outcomes:
            why = [f"{row.test_id}: {r.message}" for row, r in results if r.outcome == "error"]
            statuses = {sid: "unknown" if i <= k else "pending" for i, sid in enumerate(ids)}
            return Position(statuses, None, why)
    statuses = {sid: "pending" for sid in ids}
    statuses[ids[0]] = "next"
    return Position(statuses, ids[0])
