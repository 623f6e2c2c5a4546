"""What the terminal says: the status letters, a failed row's explanation, the profile's
steps (`--list-steps`) and the verdict line, which is always the last line of a run."""

from __future__ import annotations

from typing import Any

from ..catalog import Result
from ..profiles import KINDS, Profile, Row

# outcome -> pytest's (category, letter, word) for the progress and the short summary
WORDS = {"pass": ("passed", ".", "PASS"), "fail": ("failed", "F", "FAIL"),
         "error": ("error", "E", "ERROR"), "warn": ("warn", "W", "WARN"),
         "not-applicable": ("skipped", "s", "N/A"), "waived": ("waived", "w", "WAIVED")}


def explain(row: Row | None, result: Result) -> str:
    """A failed or errored row: what was found, observed and expected, the fix, the doc."""
    if row is None:
        return result.message
    site = row.site.name if row.site else "deployment"
    lines = [f"{row.check.id} [{site}] {row.check.title}: {result.outcome.upper()}",
             f"  {result.message}"]
    if result.observed is not None:
        lines.append(f"  observed: {result.observed}")
    if result.expected is not None:
        lines.append(f"  expected: {result.expected}")
    lines.append(f"  fix: {row.check.remediation}")
    lines.append(f"  doc: {row.check.doc}")
    return "\n".join(lines)


def steps_listing(profile: Profile) -> str:
    """`--list-steps`: each step and the checks that gate it."""
    lines = [f"{profile.name}: {profile.title}", f"  {profile.doc}"]
    for i, step in enumerate(profile.steps, 1):
        lines.append(f"{i}. {step.id}: {step.title}")
        for kind in KINDS:
            for entry in getattr(step, kind):
                roles = "" if len(entry.roles) == 2 else f" ({', '.join(entry.roles)})"
                method = "" if len(entry.methods) == 2 else f" [{entry.methods[0]} import]"
                lines.append(f"     {kind:<9} {entry.check.id}{roles}{method} "
                             f"{entry.check.title}")
    return "\n".join(lines)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def verdict_line(report: Any, outcomes: list[tuple[Row, Result]]) -> str:
    """`geopreflight: <profile> step <step> (i/n): <VERDICT>, <why>`."""
    head = f"geopreflight: {report.profile.name} step {report.step_label}: "
    failed = sum(1 for row, r in outcomes if row.blocking and r.outcome == "fail")
    errors = sum(1 for row, r in outcomes if row.blocking and r.outcome == "error")
    warns = sum(1 for _, r in outcomes if r.outcome == "warn")
    verdict = str(report.verdict)
    words = verdict.replace("_", " ")
    if verdict == "IN_PROGRESS":
        left = sum(1 for row, r in outcomes if row.kind == "completes"
                   and r.outcome not in ("pass", "waived"))
        words += f", {_n(left, 'thing')} left to finish it"
    elif verdict == "NOT_READY":
        words += f", {_n(failed, 'blocking check')} failed"
    elif verdict == "CANNOT_DETERMINE" and report.step is None:
        words += ", the step's position could not be determined"
    elif verdict == "CANNOT_DETERMINE":
        words += f", {_n(errors, 'blocking check')} could not be evaluated"
    if warns and verdict in ("READY", "NOT_READY", "CANNOT_DETERMINE"):
        words += f" ({_n(warns, 'warning')})"
    return head + words
