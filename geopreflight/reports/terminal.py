"""What the terminal says: the progress while probing, the status letters, a failed row's
explanation, the profile's steps (`--list-steps`), the summary after the run (the rows that
did not pass, one line for each shared cause of errors, counts, the step timeline) and the
verdict line, which is always the last line of a run. Every line goes through `for_terminal`:
a value from the deployment or a bundle never writes an escape sequence to the terminal."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..catalog import Outcome, Result
from ..failures import UNREACHABLE, Kind, ProbeFailure
from ..i18n import N_, _, clip, doc, ljust, ngettext, width
from ..position import StepStatus
from ..profiles import KINDS, Profile, Row
from ..textsafe import for_terminal
from ..verdict import Verdict
from .run import fix_of

SAME_CAUSE = "same-cause"
# outcome -> pytest's (category, letter, word) for the progress and the short summary
WORDS = {Outcome.PASS: ("passed", ".", "PASS"), Outcome.FAIL: ("failed", "F", "FAIL"),
         Outcome.ERROR: ("error", "E", "ERROR"), Outcome.WARN: ("warn", "W", "WARN"),
         Outcome.NOT_APPLICABLE: ("skipped", "s", "N/A"),
         Outcome.WAIVED: ("waived", "w", "WAIVED"),
         # an error row whose cause another row's section already explains: not repeated
         SAME_CAUSE: ("not evaluated", "E", "ERROR")}


def explain(row: Row | None, result: Result, cause: Cause | None = None,
            same: Iterable[str] = ()) -> str:
    """A failed or errored row: what was found, observed and expected, the fix, the doc. A row
    that a shared cause stopped points to it and gives the cause's fix, not the check's, and
    names the other rows (`same`, test ids) that cause stopped, which pytest then lists once."""
    if row is None:
        return for_terminal(result.message)
    site = row.site.name if row.site else "deployment"
    lines = [f"{row.check.id} [{site}] {_(row.check.title)}: "
             f"{_(SHOWN[result.outcome])}", f"  {result.message}"]
    if cause is not None:
        same = list(same)
        lines += ["  " + _("not evaluated because {cause}").format(cause=cause.text),
                  "  " + _("fix: {fix}").format(fix=cause.fix)]
        if same:
            lines.append("  " + ngettext("the same cause stopped {n} other row:",
                                         "the same cause stopped {n} other rows:",
                                         len(same)).format(n=len(same)))
            lines += textwrap.wrap(", ".join(same), FIX_WIDTH, initial_indent="    ",
                                   subsequent_indent="    ", break_on_hyphens=False)
        return "\n".join(map(for_terminal, lines))
    if result.observed is not None:
        lines.append("  " + _("observed: {value}").format(value=result.observed))
    if result.expected is not None:
        lines.append("  " + _("expected: {value}").format(value=result.expected))
    lines.append("  " + _("fix: {fix}").format(fix=fix_of(row, result)))
    lines.append("  " + _("doc: {link}").format(link=doc(row.check.doc)))
    return "\n".join(map(for_terminal, lines))


def _checks(count: int) -> str:
    return ngettext("{n} check", "{n} checks", count).format(n=count)


def _entry(entry: Any) -> str:
    roles = "" if len(entry.roles) == 2 else f" ({', '.join(entry.roles)})"
    method = "" if len(entry.methods) == 2 else " " + _("[{method} import]").format(
        method=entry.methods[0])
    return f"{entry.check.id}{roles}{method} {_(entry.check.title)}"


def steps_listing(profile: Profile) -> str:
    """`--list-steps`: the shared groups once, then each step and the checks that gate it, a
    group named where a step uses it."""
    lines = [f"{profile.name}: {_(profile.title)}", f"  {doc(profile.doc)}"]
    for name, entries in profile.groups:
        lines.append(_("group {name} ({checks}):").format(name=name,
                                                          checks=_checks(len(entries))))
        lines += [f"     {_entry(e)}" for e in entries]
    for i, step in enumerate(profile.steps, 1):
        lines.append(f"{i}. {step.id}: {_(step.title)}")
        for kind in KINDS:
            entries, k = list(getattr(step, kind)), 0
            while k < len(entries):
                group = next(((name, len(g)) for name, g in profile.groups
                              if tuple(entries[k:k + len(g)]) == g), None)
                if group is not None:
                    lines.append(f"     {kind:<9} " + _("group {name} ({checks}, listed "
                                                          "above)").format(
                        name=group[0], checks=_checks(group[1])))
                    k += group[1]
                    continue
                lines.append(f"     {kind:<9} {_entry(entries[k])}")
                k += 1
    return "\n".join(lines)


VERDICT_WORDS = {Verdict.READY: N_("READY"), Verdict.COMPLETE: N_("COMPLETE"),
                 Verdict.NOT_READY: N_("NOT READY"), Verdict.IN_PROGRESS: N_("IN PROGRESS"),
                 Verdict.CANNOT_DETERMINE: N_("CANNOT DETERMINE")}


def verdict_word(verdict: Verdict) -> str:
    """The verdict as people read it, the same in every report (`NOT READY`, `判定: 準備未完了`)."""
    return _(VERDICT_WORDS[str(verdict)])


def verdict_reasons(report: Any, outcomes: list[tuple[Row, Result]],
                    deselected: Iterable[str] = ()) -> str:
    """What follows the verdict word: `, 1 blocking check failed (2 warnings)`; blocking rows
    that -k/-m deselected are named as such, not as rows that could not be evaluated."""
    deselected = set(deselected)
    failed = sum(1 for row, r in outcomes if row.blocking and r.outcome == Outcome.FAIL)
    errors = sum(1 for row, r in outcomes if row.blocking and r.outcome == Outcome.ERROR
                 and row.test_id not in deselected)
    skipped = [row.test_id for row, r in outcomes if row.blocking and r.outcome == Outcome.ERROR
               and row.test_id in deselected]
    warns = sum(1 for _row, r in outcomes if r.outcome == Outcome.WARN)
    verdict = str(report.verdict)
    sep = _(", ")
    words = ""
    if verdict == Verdict.IN_PROGRESS:
        left = sum(1 for row, r in outcomes if row.kind == "completes"
                   and r.outcome not in (Outcome.PASS, Outcome.WAIVED))
        words += sep + ngettext("{n} thing left to finish it", "{n} things left to finish it",
                                left).format(n=left)
    elif verdict == Verdict.NOT_READY:
        words += sep + ngettext("{n} blocking check failed", "{n} blocking checks failed",
                                failed).format(n=failed)
    elif verdict == Verdict.CANNOT_DETERMINE and report.step is None:
        words += sep + _("the step's position could not be determined")
    elif verdict == Verdict.CANNOT_DETERMINE and errors:
        words += sep + ngettext("{n} blocking check could not be evaluated",
                                "{n} blocking checks could not be evaluated",
                                errors).format(n=errors)
    if skipped and verdict != Verdict.IN_PROGRESS:
        named = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        words += (sep if verdict != Verdict.READY else " ") + ngettext(
            "{n} blocking check not evaluated: deselected ({named})",
            "{n} blocking checks not evaluated: deselected ({named})",
            len(skipped)).format(n=len(skipped), named=named)
    if warns and verdict in (Verdict.READY, Verdict.NOT_READY, Verdict.CANNOT_DETERMINE):
        words += " " + ngettext("({n} warning)", "({n} warnings)", warns).format(n=warns)
    return words


def verdict_line(report: Any, outcomes: list[tuple[Row, Result]],
                 deselected: Iterable[str] = ()) -> str:
    """`geopreflight: <profile> step <step> (i/n): <VERDICT>, <why>`, the run's last line."""
    return for_terminal(_("geopreflight: {profile} step {step}: {verdict}").format(
        profile=report.profile.name, step=report.step_label,
        verdict=verdict_word(report.verdict)) + verdict_reasons(report, outcomes, deselected))


# -- shared causes of errors ---------------------------------------------------------------
COMPONENTS = {"geo": N_("GitLab API"), "gitlab": N_("GitLab API"), "registry": N_("registry"),
              "db": N_("metadata database"), "host": N_("host files"), "canary": N_("canary"),
              "attestations": N_("attestations")}
FIXES = {
    "GitLab API": N_("make {where} reachable from where geopreflight runs (is GitLab up? DNS, "
                     "firewall, proxy, CA bundle) or correct the site's gitlab.url in the "
                     "inventory, then run again"),
    "registry": N_("make the registry at {where} answer from where geopreflight runs, or "
                   "correct the site's registry.url in the inventory, then run again"),
    "metadata database": N_("make the registry metadata database reachable with the "
                            "inventory's metadata_db settings (server up, pg_hba, credentials), "
                            "then run again"),
    "host files": N_("make the site's host readable through the inventory's host target (SSH "
                     "access, sudo, the root path), then run again"),
}
TOKEN_FIX = N_("give the site's token (the inventory's token_env or token_file) what it lacks: "
               "an administrator's token with read_api and read_registry, and admin_mode where "
               "Admin Mode is on, then run again")
OTHER_FIX = N_("resolve the error above, then run again; until then these checks cannot be "
               "judged")
ROOTLESS = N_("/etc/gitlab/gitlab.rb is not there, so none of the GitLab files the checks "
              "read is (a wrong host target or root?)")
ROOTLESS_FIX = N_("check the site's host target and root in the inventory: the target is the "
                  "GitLab node, and root the path prefix under which etc/gitlab and "
                  "var/opt/gitlab live (/ on a real node); then run again")
NO_SSH_FIX = N_("install OpenSSH's client where geopreflight runs (apt-get install "
                "openssh-client; in CI, an image that has it), then run again")


@dataclass(frozen=True)
class Cause:
    """One failed component of one site, and the rows it stopped from being evaluated;
    `kind` and `status` are its probe failure's (None: a fact recorded without them)."""

    site: str
    component: str
    where: str
    reason: str
    unreachable: bool = False
    kind: Kind | None = None
    status: int | None = None

    @property
    def text(self) -> str:
        """`eu-primary: GitLab API unreachable at https://... (Connection refused; 3 attempts)`"""
        values = {"site": self.site, "component": _(self.component), "where": self.where,
                  "reason": _(ROOTLESS) if self.reason == ROOTLESS else self.reason}
        if self.unreachable and self.where:
            return _("{site}: {component} unreachable at {where} ({reason})").format(**values)
        if self.unreachable:
            return _("{site}: {component} unreachable ({reason})").format(**values)
        if self.where:
            return _("{site}: {component} ({where}): {reason}").format(**values)
        return _("{site}: {component}: {reason}").format(**values)

    @property
    def short(self) -> str:
        if self.unreachable:
            return _("{site}: {component} unreachable").format(site=self.site,
                                                               component=_(self.component))
        return f"{self.site}: {_(self.component)}"

    @property
    def fix(self) -> str:
        if self.reason == ROOTLESS:
            return _(ROOTLESS_FIX)
        if self.kind is Kind.NO_TOOL:  # ssh is the one program a probe runs here
            return _(NO_SSH_FIX)
        if self.status in (401, 403):
            return _(TOKEN_FIX)
        if not self.unreachable or self.component not in FIXES:
            return _(OTHER_FIX)
        return _(FIXES[self.component]).format(where=self.where or _("it"))


AREA_COMPONENT = {"VER": "GitLab API", "GEO": "GitLab API", "REG": "registry",
                  "DB": "metadata database", "HOST": "host files"}


def error_fix(row: Row, result: Result, cause: Cause | None) -> str:
    """The fix for a row that could not be evaluated: its cause's, when it has one that says
    what to do or that lies outside the check's own subject (a database check stopped by the
    GitLab API must not say "upgrade PostgreSQL"); else the check's own remediation."""
    if cause is None:
        return fix_of(row, result)
    if cause.fix != _(OTHER_FIX):
        return cause.fix
    if AREA_COMPONENT.get(row.check.id.split("-")[0]) == cause.component:
        return fix_of(row, result)
    return _("first make {cause} answer ({reason}), then run again").format(
        cause=cause.short, reason=cause.reason)


def _origin(url: str) -> str:
    """`scheme://host:port` of a URL; a URL that does not parse (`http://[x`, from a bundle's
    error text) is shown as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else url


def _node(inventory: Any, site: str, name: str | None) -> Any:
    """The inventory's node a host fact was read on: by its name, else the site's host."""
    for s in getattr(inventory, "sites", []):
        if s.name == site:
            return next((h for h in s.hosts if name and h.name == name), s.host)
    return None


class Causes:
    """The shared causes of a run's error rows, from the failed facts each row read."""

    def __init__(self, facts: Iterable[dict[str, Any]], inventory: Any) -> None:
        facts = list(facts)
        self._facts = {(f["key"], f["site"]): f for f in facts if f.get("error")}
        self._origins: dict[str, tuple[str, str]] = {}
        for site in getattr(inventory, "sites", []):
            self._origins[_origin(site.gitlab.url)] = (site.name, "GitLab API")
            if site.registry is not None:
                self._origins[_origin(site.registry.url)] = (site.name, "registry")
        # a host read without error but without gitlab.rb (every Linux package node has one):
        # the inventory's target or root is wrong, and each missing file is that one cause
        self._rootless: dict[str, Cause] = {}
        for f in facts:
            rb = ((f.get("value") or {}) if f["key"] == "host.config" else {}).get("gitlab_rb")
            if f.get("site") and isinstance(rb, dict) and rb.get("present") is False:
                node = _node(inventory, f["site"], f.get("host"))
                where = f"{node.target}{node.root.rstrip('/')}" if node else f["site"]
                self._rootless.setdefault(f["site"], Cause(
                    f["site"], "host files", where, ROOTLESS))

    def of(self, result: Result) -> Cause | None:
        """The first failed fact the row read, as a cause; for a row that found a host file
        missing (`missing_on`) where gitlab.rb is missing too, the host's target or root
        (None: the row's error is its own)."""
        if result.outcome != Outcome.ERROR:
            return None
        for key in result.causes:
            fact = self._facts.get(key)
            if fact is not None:
                return self._cause(fact)
        return self._rootless.get(result.missing_on) if result.missing_on else None

    def _cause(self, fact: dict[str, Any]) -> Cause:
        """The fact's failure as a cause: a request names its origin (and through it the
        site and component it belongs to); a fact recorded without the failure's fields (a
        bundle from before them) is its message, named by its own site and key."""
        component = COMPONENTS.get(fact["key"].split(".")[0], fact["key"])
        site = fact["site"] or "deployment"
        if fact.get("failure") is None:
            return Cause(site, component, "", " ".join(str(fact["error"]).split()))
        failure = ProbeFailure.from_dict(fact["failure"])
        where = _origin(" ".join(failure.target.split())) if failure.method else ""
        if where:
            site, component = self._origins.get(where, (site, component))
        return Cause(site, component, where, " ".join(failure.cause.split()),
                     component in FIXES and failure.kind in UNREACHABLE, failure.kind,
                     failure.status)


# -- the summary after the run --------------------------------------------------------------
MARKS = {StepStatus.COMPLETE: "\u2713", StepStatus.IN_PROGRESS: "\u25b6",
         StepStatus.NEXT: "\u25b6", StepStatus.PENDING: "\u00b7", StepStatus.UNKNOWN: "?"}
NOT_PASSED = (Outcome.FAIL, Outcome.ERROR, Outcome.WARN, Outcome.WAIVED)
# shown through _(...); the ids in summary.json never change
SHOWN = {Outcome.FAIL: N_("FAIL"), Outcome.ERROR: N_("ERROR"), Outcome.WARN: N_("WARN"),
         Outcome.WAIVED: N_("WAIVED"), Outcome.NOT_APPLICABLE: N_("N/A"),
         Outcome.PASS: N_("PASS")}
COUNTED = {Outcome.PASS: N_("pass"), Outcome.FAIL: N_("fail"), Outcome.WARN: N_("warn"),
           Outcome.ERROR: N_("error"), Outcome.WAIVED: N_("waived"),
           Outcome.NOT_APPLICABLE: N_("n/a"), "deselected": N_("deselected")}
STATUSES = {StepStatus.COMPLETE: N_("complete"), StepStatus.IN_PROGRESS: N_("in-progress"),
            StepStatus.NEXT: N_("next"), StepStatus.PENDING: N_("pending"),
            StepStatus.UNKNOWN: N_("unknown")}
FIX_WIDTH = 100


def timeline(profile: Profile, statuses: dict[str, StepStatus]) -> str:
    """`\u2713 prerequisites \u2192 \u25b6 import-secondary \u2192 \u00b7 import-primary`;
    an in-progress step says so, an unknown one is `?`."""
    parts = []
    for step in profile.steps:
        status = statuses.get(step.id, StepStatus.PENDING)
        label = f"{MARKS.get(status, '?')} {step.id}"
        if status in (StepStatus.IN_PROGRESS, StepStatus.UNKNOWN):
            label += f" ({_(STATUSES[status])})"
        parts.append(label)
    return " \u2192 ".join(parts)


def _line(text: str, cells: int = FIX_WIDTH) -> str:
    return clip(text, cells)


def shared_causes(outcomes: list[tuple[Row, Result]], causes: Causes
                  ) -> list[tuple[Cause, list[Row]]]:
    """The causes that stopped more than one row, each with its rows, in the rows' order."""
    by_cause: dict[Cause, list[Row]] = {}
    for row, result in outcomes:
        cause = causes.of(result)
        if cause is not None:
            by_cause.setdefault(cause, []).append(row)
    return [(c, rows) for c, rows in by_cause.items() if len(rows) > 1]


def summary(profile: Profile, statuses: dict[str, StepStatus], outcomes: list[tuple[Row, Result]],
            causes: Causes, outside: int = 0, deselected: Iterable[str] = (),
            next_actions: Iterable[Any] = ()) -> list[tuple[str, str]]:
    """The lines after the run, each with its colour (a markup word or ""): the shared causes,
    a table of every row that did not pass (the first is the one to act on), counts by
    outcome, the step timeline, and what to run next (READY, IN PROGRESS)."""
    deselected = set(deselected)
    lines: list[tuple[str, str]] = []
    shared = shared_causes(outcomes, causes)
    number = {c: i for i, (c, _rows) in enumerate(shared, 1)}
    for cause, rows in shared:
        n = len(rows)
        lines.append((f"[{number[cause]}] " + ngettext(
            "{cause}: {n} check not evaluated", "{cause}: {n} checks not evaluated", n).format(
            cause=cause.text, n=n), "red"))
        lines.append(("    " + _("fix: {fix}").format(fix=cause.fix), ""))
    table = []
    for row, result in outcomes:
        if result.outcome not in NOT_PASSED or row.test_id in deselected:
            continue
        site = row.site.name if row.site else "deployment"
        host = getattr(row, "host", None)
        where = f"{site}/{host}" if host else site
        cause = causes.of(result)
        if cause in number:
            fix = _("see [{number}] {cause}").format(number=number[cause], cause=cause.short)
        elif cause is not None:
            fix = _line(_("fix: {fix}").format(fix=error_fix(row, result, cause)))
        elif result.outcome == Outcome.WAIVED:
            fix = _line(result.message)
        else:
            fix = _line(_("fix: {fix}").format(fix=fix_of(row, result)))
        word = _(SHOWN[result.outcome])
        if not row.blocking and result.outcome == Outcome.ERROR:
            word = _("{outcome} (advisory)").format(outcome=word)
        colour = {Outcome.FAIL: "red", Outcome.ERROR: "red",
                  Outcome.WARN: "yellow"}.get(result.outcome, "")
        entry = [word, row.check.id, where, _(row.check.title), fix, colour]
        same = next((e for e in table if cause in number and e[:2] == entry[:2]
                     and e[4] == fix), None)  # one check stopped by one cause: one line
        if same is not None:
            same[2] += ", " + where
        else:
            table.append(entry)
    if table:
        lines.append((ngettext("{n} row did not pass:", "{n} rows did not pass:",
                               len(table)).format(n=len(table)), "bold"))
        widths = [max(width(r[i]) for r in table) for i in range(4)]
        for *cells, fix, colour in table:
            lines.append(("  " + "  ".join(ljust(v, w) for v, w in
                                           zip(cells, widths, strict=True))
                          + "  " + fix, colour))
    removed = [row.test_id for row, _r in outcomes if row.test_id in deselected]
    if removed:
        named = ", ".join(removed[:8]) + (f" and {len(removed) - 8} more"
                                           if len(removed) > 8 else "")
        lines.append((_("not evaluated, deselected with -k/-m: {named}").format(named=named),
                      "yellow"))
    counts: dict[str, int] = {}
    for row, result in outcomes:
        outcome = "deselected" if row.test_id in deselected else result.outcome
        counts[outcome] = counts.get(outcome, 0) + 1
    words = [_("{count} {outcome}").format(count=counts[o], outcome=_(COUNTED[o]))
             for o in COUNTED if counts.get(o)]
    extra = " " + ngettext("({n} row of other steps not in this step's plan)",
                           "({n} rows of other steps not in this step's plan)",
                           outside).format(n=outside) if outside else ""
    lines.append((ngettext("{n} row: {counts}", "{n} rows: {counts}", len(outcomes)).format(
        n=len(outcomes), counts=_(", ").join(words)) + extra, ""))
    lines.append((_("steps: {timeline}").format(timeline=timeline(profile, statuses)), ""))
    lines += [(_("next: {action}").format(action=action.line()), "bold")
              for action in next_actions]
    return [(for_terminal(text), colour) for text, colour in lines]


VERDICT_COLOURS = {Verdict.READY: "green", Verdict.COMPLETE: "green", Verdict.NOT_READY: "red",
                   Verdict.IN_PROGRESS: "yellow", Verdict.CANNOT_DETERMINE: "purple"}


# -- progress while probing ------------------------------------------------------------------
SHORT = {"GitLab API": "gitlab", "registry": "registry", "metadata database": "db",
         "host files": "host"}


class Progress:
    """One line per site while its probes run: `eu-primary: gitlab ok 0.12s, registry ok,
    db \u2026`. On a TTY the line of the site still being probed is rewritten in place and
    each site's final line stays; otherwise only the final line of each site is written, and
    only for the first round of probes. Thread-safe: probes report from their threads."""

    def __init__(self, write: Callable[[str], None], rewrite: Callable[[str], None] | None
                 ) -> None:
        self._write, self._rewrite = write, rewrite
        self._lock = threading.Lock()
        self._round = 0
        self._seen: dict[tuple[str, str | None], Any] = {}
        self._done: set[str] = set()

    def fact(self, fact: Any, planned: list[tuple[str, str | None]]) -> None:
        """A probe finished (`planned`: every (key, site) of this round of probes)."""
        with self._lock:
            if not self._seen:
                self._round += 1
            self._seen[(fact.key, fact.site)] = fact
            site = fact.site or "deployment"
            mine = [k for k in planned if (k[1] or "deployment") == site]
            text = self.line(site, mine)
            finished = all(k in self._seen for k in mine)
            if finished and site not in self._done:
                self._done.add(site)
                if self._rewrite is not None or self._round == 1:
                    self._write(text)
            elif not finished and self._rewrite is not None:
                self._rewrite(text)
            if all(k in self._seen for k in planned):
                self._seen, self._done = {}, set()

    def line(self, site: str, keys: list[tuple[str, str | None]]) -> str:
        parts: dict[str, list[Any]] = {}
        for key in keys:
            name = COMPONENTS.get(key[0].split(".")[0], key[0])
            parts.setdefault(SHORT.get(name, name), []).append(self._seen.get(key))
        words = []
        for name, facts in parts.items():
            if any(f is None for f in facts):
                words.append(f"{name} \u2026")
                continue
            state = _("ERROR") if any(f.error for f in facts) else _("ok")
            took = max(f.duration_s for f in facts)
            words.append(f"{name} {state} {took:.2f}s")
        return for_terminal(f"{site}: " + ", ".join(words))

    def wait_round(self, rounds: int, still: list[str], left_s: float) -> None:
        """`--wait`: a round of probes is done and another follows."""
        text = for_terminal(_("--wait: {checks} still failing, round {round}, {left} s left")
                            .format(checks=", ".join(still), round=rounds, left=f"{left_s:.0f}"))
        with self._lock:
            (self._rewrite or self._write)(text)


def window_lines(step: str | None, method: str, estimate: list[dict[str, Any]],
                 measured: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The change window's block: each phase's range with its basis, the read-only total
    per site, and the import phases the registries measured (site names and bases are the
    deployment's: every line through `for_terminal`)."""
    from ..estimate import format_duration as d

    lines: list[tuple[str, str]] = []
    if estimate:
        lines.append((_("estimate for {step} ({method}; advisory, the basis says what it rests "
                        "on):").format(step=step, method=method), "bold"))
        access = {True: _("read-only"), False: _("read-write")}
        cells = max(width(w) for w in access.values())
        for site in dict.fromkeys(e["site"] for e in estimate):
            mine = [e for e in estimate if e["site"] == site]
            for e in mine:
                lines.append((_("  {site}  {phase} {access} {low} to {high}  ({basis})").format(
                    site=site, phase=f"{e['phase']:<10}",
                    access=ljust(access[bool(e["read_only"])], cells), low=d(e["low_s"]),
                    high=d(e["high_s"]), basis=e["basis"]), ""))
            ro = [e for e in mine if e["read_only"]]
            lines.append((_("  {site}  read-only for {low} to {high}").format(
                site=site, low=d(sum(e["low_s"] for e in ro)),
                high=d(sum(e["high_s"] for e in ro))), "bold"))
    if measured:
        lines.append((_("measured imports: {imports}").format(imports="; ".join(
            _("{site} {phase} {duration} ({tags} tags)").format(
                site=m["site"], phase=m["phase"], duration=d(m["seconds"]), tags=m["tags"])
            for m in measured)), ""))
    return [(for_terminal(text), colour) for text, colour in lines]
