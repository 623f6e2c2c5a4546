"""The position and the plan's outcomes -> the verdict -> the exit code.

| verdict          | exit | when                                                    |
|------------------|------|---------------------------------------------------------|
| READY            | 0    | every blocking row passed (warnings allowed)            |
| COMPLETE         | 0    | --step=auto and every step of the profile is complete   |
| NOT_READY        | 1    | at least one blocking row failed                        |
| IN_PROGRESS      | 1    | --step=auto and a step has begun but is not finished    |
| CANNOT_DETERMINE | 6    | no blocking row failed, at least one could not evaluate |

>>> from geopreflight.catalog import Result
>>> print(decide([(True, Result("pass", "")), (False, Result("error", ""))]))
READY
>>> print(decide([(True, Result("error", "")), (True, Result("fail", ""))]))
NOT_READY
>>> print(decide([(True, Result("waived", "")), (True, Result("error", ""))]))
CANNOT_DETERMINE
"""

from __future__ import annotations

from enum import StrEnum

from .catalog import Outcome, Result
from .position import Position
from .profiles import Row


class Verdict(StrEnum):
    """The one answer of a run; its value is what summary.json says."""

    READY = "READY"
    COMPLETE = "COMPLETE"
    NOT_READY = "NOT_READY"
    IN_PROGRESS = "IN_PROGRESS"
    CANNOT_DETERMINE = "CANNOT_DETERMINE"


EXIT_CODES = {Verdict.READY: 0, Verdict.COMPLETE: 0, Verdict.NOT_READY: 1,
              Verdict.IN_PROGRESS: 1, Verdict.CANNOT_DETERMINE: 6}


def final(row: Row, result: Result) -> Result:
    """A failed advisory row is a warning; nothing else changes."""
    if not row.blocking and result.outcome == Outcome.FAIL:
        return Result(Outcome.WARN, result.message, result.observed, result.expected)
    return result


def decide(outcomes: list[tuple[bool, Result]]) -> Verdict:
    """The verdict of (blocking, result) pairs: a failure beats an error beats a pass."""
    blocking = [r.outcome for b, r in outcomes if b]
    if Outcome.FAIL in blocking:
        return Verdict.NOT_READY
    if Outcome.ERROR in blocking:
        return Verdict.CANNOT_DETERMINE
    return Verdict.READY


def conclude(position: Position | None, outcomes: list[tuple[Row, Result]]) -> Verdict:
    """The run's verdict from where the deployment stands and the plan's outcomes."""
    if position is not None and position.undetermined:
        return Verdict.CANNOT_DETERMINE
    if position is not None and position.complete:
        return Verdict.COMPLETE
    if position is not None and position.in_progress:
        during = decide([(True, r) for row, r in outcomes if row.kind == "during"])
        return Verdict.IN_PROGRESS if during == Verdict.READY else during
    return decide([(row.blocking, result) for row, result in outcomes])
