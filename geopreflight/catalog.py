"""Check metadata, the decorator that declares a check, and how a check is evaluated.

A check is a function of one `CheckContext`. It passes by returning (optionally a message
saying what it saw), and says anything else by
raising: `Fail` (with the observed and expected values), `Warn`, `NotApplicable`, or
`CannotEvaluate` (an error: could not evaluate). Metadata sits beside the function and is
validated when the module is imported, like Prowler's check metadata.

>>> @check("VER-999", title="Example", severity="low", rationale="r", remediation="x",
...        doc="https://docs.gitlab.com/", scope="deployment")
... def test_ver_999_example(ctx):
...     raise Fail("1 primary site", observed="0", expected="1")
>>> evaluate(CATALOG["VER-999"], None).outcome == Outcome.FAIL == "fail"
True
>>> del CATALOG["VER-999"]

The function's name says which check it is and what it asserts: `test_<area>_<nnn>_<what>`.

>>> check("VER-998", title="t", severity="low", rationale="r", remediation="x",
...       doc="https://docs.gitlab.com/")(lambda ctx: None)
Traceback (most recent call last):
...
ValueError: check VER-998: the function <lambda> must be named test_ver_998_<what it asserts>
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, is_dataclass, replace
from enum import StrEnum
from typing import Any

from .facts import Fact, FactError, Facts
from .i18n import _
from .inventory import HOST_ROLES

SEVERITIES = ("critical", "high", "medium", "low", "info")
SCOPES = ("site", "deployment", "pair")
ROLES = ("primary", "secondary")
AREAS = ("VER", "GEO", "REG", "DB", "IMP", "REP", "HOST", "ATT")
_ID = re.compile(rf"^({'|'.join(AREAS)})-\d{{3}}$")


class Outcome(StrEnum):
    """A row's outcome; compares and serialises as its string (summary.json, JUnit)."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"
    NOT_APPLICABLE = "not-applicable"
    WAIVED = "waived"


class Fail(Exception):  # noqa: N818 - an outcome, not an error
    """The check found the deployment not as it must be."""

    def __init__(self, message: str, *, observed: Any = None, expected: Any = None) -> None:
        super().__init__(message)
        self.observed, self.expected = observed, expected


class Warn(Exception):  # noqa: N818
    """A finding worth reporting that does not block the step."""

    def __init__(self, message: str, *, observed: Any = None, expected: Any = None) -> None:
        super().__init__(message)
        self.observed, self.expected = observed, expected


class NotApplicable(Exception):  # noqa: N818
    """The check does not apply here; the message says why."""


class CannotEvaluate(Exception):  # noqa: N818
    """The check could not be evaluated (a fact failed, data missing): an error, never a pass.
    `missing_on`: the site whose host lacks a file the check needs (the reports then name the
    host's target or root, when gitlab.rb is missing there too)."""

    def __init__(self, message: str, *, missing_on: str | None = None) -> None:
        super().__init__(message)
        self.missing_on = missing_on


@dataclass(frozen=True)
class CheckMeta:
    id: str
    title: str
    severity: str
    rationale: str
    remediation: str
    doc: str
    scope: str = "site"
    roles: tuple[str, ...] = ROLES
    func: Callable[[Any], str | None] | None = field(default=None, compare=False, repr=False)
    # the node roles (inventory `hosts:`) a site check runs on, one row per such node; ()
    # for a check that reads no host or reads the site's default (registry) node
    host_roles: tuple[str, ...] = ()
    # replication is eventually consistent: `--wait` probes again while such a row fails
    eventual: bool = False
    # the checks whose outcomes this one reads (`ctx.outcome`): the outcomes table judges
    # them first and hands their results in, so no check evaluates another
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """One evaluated row: a check for one site (or the deployment)."""

    outcome: Outcome
    message: str
    observed: Any = None
    expected: Any = None
    # the failed facts (key, site) the check read: what an error row could not get past, so
    # the terminal can group the rows one dead component stopped
    causes: tuple[tuple[str, str | None], ...] = ()
    # the fix for the state the deployment is in, when the check's own remediation would
    # mislead there (a database enabled before its import): see geopreflight/guidance.py
    fix: str | None = None
    probe_s: float = 0.0  # the longest probe among the facts the check read (JUnit's time)
    missing_on: str | None = None  # CannotEvaluate's: the site whose host lacks a file
    # every failed fact the check read, whatever its outcome: a check that reads another's
    # outcome read these too (they become its causes when it errs)
    failed_reads: tuple[tuple[str, str | None], ...] = field(default=(), compare=False,
                                                               repr=False)

    def __post_init__(self) -> None:
        """The outcome is an `Outcome` whatever it was built from (a recorded "pass" too); a
        word that is not an outcome fails here, not in a report writer."""
        object.__setattr__(self, "outcome", Outcome(self.outcome))


CATALOG: dict[str, CheckMeta] = {}


def check(check_id: str, *, title: str, severity: str, rationale: str, remediation: str,
          doc: str, scope: str = "site", roles: tuple[str, ...] = ROLES,
          host_roles: tuple[str, ...] = (), eventual: bool = False,
          depends_on: tuple[str, ...] = ()
          ) -> Callable[[Callable[[Any], str | None]], Callable[[Any], str | None]]:
    """Declare a check; bad metadata fails at import, so a broken catalog never runs."""
    problems = []
    if not _ID.match(check_id):
        problems.append("id must look like AREA-NNN with AREA one of VER GEO REG DB IMP REP HOST "
                        "ATT")
    if severity not in SEVERITIES:
        problems.append(f"severity must be one of {', '.join(SEVERITIES)}")
    if scope not in SCOPES:
        problems.append(f"scope must be one of {', '.join(SCOPES)}")
    if not roles or any(r not in ROLES for r in roles):
        problems.append(f"roles must be a non-empty subset of {ROLES}")
    if any(not _ID.match(d) or d == check_id for d in depends_on):
        problems.append("depends_on must name other checks (AREA-NNN)")
    if any(r not in HOST_ROLES for r in host_roles):
        problems.append(f"host_roles must be a subset of {HOST_ROLES}")
    if not all((title, rationale, remediation)) or not doc.startswith("https://"):
        problems.append("title, rationale, remediation and an https doc link are required")
    if problems:
        raise ValueError(f"check {check_id}: " + "; ".join(problems))

    def register(func: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        prefix = "test_" + check_id.lower().replace("-", "_")
        if not func.__name__.startswith(prefix + "_"):
            raise ValueError(f"check {check_id}: the function {func.__name__} must be named "
                             f"{prefix}_<what it asserts>")
        known = CATALOG.get(check_id)
        if known and known.func and known.func.__qualname__ != func.__qualname__:
            raise ValueError(f"check id {check_id} declared twice ({known.func.__qualname__}, "
                             f"{func.__qualname__})")
        meta = CheckMeta(check_id, title, severity, rationale, remediation, doc, scope,
                         tuple(roles), func, tuple(host_roles), eventual, tuple(depends_on))
        CATALOG[check_id] = meta
        func.geopreflight_check = meta  # type: ignore[attr-defined]
        return func

    return register


class _Reading:
    """The run's facts, noting each failed one a check reads (the causes of an error row)."""

    def __init__(self, facts: Facts) -> None:
        self._facts = facts
        self.failed: list[tuple[str, str | None]] = []
        self.took = 0.0

    def note(self, result: Result) -> None:
        """Another check's outcome was read: what its facts cost and which failed count here
        as if this check had read them (in the order it reads them)."""
        self.took = max(self.took, result.probe_s)
        self.failed.extend(f for f in result.failed_reads if f not in self.failed)

    def get(self, key: str, site: str | None = None, host: str | None = None) -> Fact:
        fact = self._facts.get(key, site, host)
        self.took = max(self.took, fact.duration_s or 0.0)
        if fact.error and (key, site) not in self.failed:
            self.failed.append((key, site))
        return fact

    value = Facts.value  # the same rule, through this class's noting `get`

    def __getattr__(self, name: str) -> Any:
        return getattr(self._facts, name)


def evaluate(meta: CheckMeta, ctx: Any, redact: Callable[[str], str] = str) -> Result:
    """Run one check for one context; an unexpected exception is an error row, never a crash.
    An error row names the failed facts the check read (`causes`)."""
    reading = None
    if isinstance(getattr(ctx, "facts", None), Facts) and is_dataclass(ctx):
        reading = _Reading(ctx.facts)
        ctx = replace(ctx, facts=reading)
    result = _evaluate(meta, ctx, redact)
    if reading is None:
        return result
    failed = tuple(reading.failed)
    return replace(result, probe_s=reading.took, failed_reads=failed,
                   causes=failed if result.outcome == Outcome.ERROR else ())


def _evaluate(meta: CheckMeta, ctx: Any, redact: Callable[[str], str]) -> Result:
    assert meta.func is not None
    try:
        message = meta.func(ctx)
    except Fail as exc:
        return Result(Outcome.FAIL, redact(str(exc)), _text(exc.observed, redact),
                      _text(exc.expected, redact))
    except Warn as exc:
        return Result(Outcome.WARN, redact(str(exc)), _text(exc.observed, redact),
                      _text(exc.expected, redact))
    except NotApplicable as exc:
        return Result(Outcome.NOT_APPLICABLE, redact(str(exc)))
    except (CannotEvaluate, FactError) as exc:
        return Result(Outcome.ERROR, redact(str(exc)),
                      missing_on=getattr(exc, "missing_on", None))
    except Exception as exc:  # noqa: BLE001 - a check bug must not crash the run
        first = (str(exc).splitlines() or [""])[0]
        return Result(Outcome.ERROR, redact(_("internal error in {id}: {error}: {detail}").format(
            id=meta.id, error=type(exc).__name__, detail=first)))
    return Result(Outcome.PASS, redact(message) if isinstance(message, str) else "ok")


def _text(value: Any, redact: Callable[[str], str]) -> str | None:
    return None if value is None else redact(str(value))
