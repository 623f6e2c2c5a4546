"""What the operator does next, and never the wrong thing.

Each row's check carries one remediation, written for the state its step expects. An import
step passes through states that need different, sometimes opposite, actions: a site not yet
imported must not have its database enabled or read-only turned off (its images would vanish
behind an empty database, or writes would be lost), an interrupted import must be restored
before anything else, and between step one and step two of a three-step import the next thing
is read-only mode and step two. This module reads each site's import phase from the import
checks' results and gives every row the fix that fits that phase, the order in which to act
(the first row shown is the one to act on), and the `next:` action of the judged step for each
site that still needs it, with GitLab's exact command and page.

The commands follow GitLab's pages (the `gitlab-ctl registry-database` wrapper runs the registry
binary as the registry user itself, so `sudo gitlab-ctl ...` works on every version from 17.5):
https://docs.gitlab.com/administration/packages/container_registry_metadata_database_one_step_import/
https://docs.gitlab.com/administration/packages/container_registry_metadata_database_three_step_import/
and omnibus-gitlab's files/gitlab-ctl-commands/lib/gitlab_ctl/registry/import.rb (`--step-one`,
`--step-two`, `--step-three`, aliases of `--pre-import`, `--all-repositories`,
`--common-blobs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .catalog import CATALOG, Outcome, Result
from .i18n import _
from .inventory import Inventory, Site
from .profiles import Profile, Row, Step, rows

ONE_STEP_DOC = ("https://docs.gitlab.com/administration/packages/"
                "container_registry_metadata_database_one_step_import/")
THREE_STEP_DOC = ("https://docs.gitlab.com/administration/packages/"
                  "container_registry_metadata_database_three_step_import/")
IMPORT = "sudo gitlab-ctl registry-database import"
RECONFIGURE = "sudo gitlab-ctl reconfigure"
BEGUN, ORDER, STOPPED, FINISHED, IN_DB = "IMP-003", "IMP-004", "IMP-005", "IMP-002", "REG-006"
PHASE_CHECKS = (FINISHED, IN_DB, STOPPED, BEGUN)  # what a site's import phase is read from
READ_ONLY_UNTIL_TAGS = "IMP-006"
# the operator's follow-up once the tags are imported: database on, read-only off, reconfigure
FOLLOW_UP = ("REG-006", "HOST-002", "REG-011")
FIRST, NOW, LATER = 0, 1, 2  # the order rows are shown in: the blocking cause, now, after it


@dataclass(frozen=True)
class Action:
    """The next thing to do on one site (None: the deployment), with GitLab's command."""

    site: str | None
    text: str
    doc: str
    command: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"site": self.site, "action": self.text, "command": self.command,
                "doc": self.doc}

    def line(self) -> str:
        """`on us-secondary: <what>: sudo gitlab-ctl ... (doc: URL)`"""
        values = {"site": self.site, "action": self.text, "command": self.command,
                  "doc": self.doc}
        if self.site and self.command:
            return _("on {site}: {action}: {command} (doc: {doc})").format(**values)
        if self.site:
            return _("on {site}: {action} (doc: {doc})").format(**values)
        if self.command:
            return _("for the deployment: {action}: {command} (doc: {doc})").format(**values)
        return _("for the deployment: {action} (doc: {doc})").format(**values)


Judge = Callable[[Row], Result]


class Guide:
    """The import phase of each site, and from it each row's fix, order and the next action."""

    def __init__(self, profile: Profile, inventory: Inventory, judge: Judge, method: str,
                 canary: bool) -> None:
        self.profile, self.inventory, self.judge = profile, inventory, judge
        self.method, self.canary = method, canary
        # only a procedure that imports legacy metadata has import phases (a new instance's
        # registry that is not yet on the database is not "not imported")
        self.imports = any(e.check.id == BEGUN for s in profile.steps for e in s.started)
        self._phases: dict[str, str | None] = {}

    # -- the import phase of a site -------------------------------------------------------------
    def _outcome(self, check_id: str, site: Site) -> str:
        return self.judge(Row(CATALOG[check_id], site, True)).outcome

    def phase(self, site: Site) -> str | None:
        """`not-begun`, `begun` (rows written, tags not imported), `interrupted`, `imported`
        (tags imported, database not yet enabled), `finished`; None when it cannot be told
        or the procedure imports nothing."""
        if not self.imports:
            return None
        if site.name not in self._phases:
            self._phases[site.name] = self._phase(site)
        return self._phases[site.name]

    def _phase(self, site: Site) -> str | None:
        if self._outcome(FINISHED, site) == Outcome.PASS:
            proved = self._outcome(IN_DB, site) in (Outcome.PASS, Outcome.WAIVED)
            return "finished" if proved else "imported"
        if self._outcome(STOPPED, site) == Outcome.FAIL:
            return "interrupted"
        return {Outcome.PASS: "begun", Outcome.FAIL: "not-begun"}.get(self._outcome(BEGUN, site))

    def import_action(self, site: Site) -> Action | None:
        """What the site's import needs next, by its phase and the import method."""
        phase, name, three = self.phase(site), site.name, self.method == "three-step"
        doc = THREE_STEP_DOC if three else ONE_STEP_DOC
        if phase == "not-begun" and three:
            return Action(name, _("run step one of the three-step import (pre-import; the "
                                  "registry may stay read-write) on its registry node"),
                          doc, f"{IMPORT} --step-one")
        if phase == "not-begun":
            return Action(name, _("with the registry read-only and registry['database'] "
                                  "'enabled' => false, run the one-step import on its registry "
                                  "node and wait for 'registry import complete'"),
                          doc, IMPORT)
        if phase == "begun" and three:
            return Action(name, _("step one is done: put the registry in read-only mode "
                                  "(registry['storage'] 'maintenance' => { 'readonly' => "
                                  "{ 'enabled' => true } }, reconfigure), then run step two"),
                          doc, f"{IMPORT} --step-two")
        if phase == "begun":
            return Action(name, _("the import is under way: keep the registry read-only and "
                                  "let it finish ('registry import complete')"), doc, IMPORT)
        if phase == "interrupted":
            return Action(name, _("the import stopped half-way: keep the registry read-only, "
                                  "restore its registry database from the backup taken before "
                                  "the tag import (or drop and recreate it, then sudo "
                                  "gitlab-ctl registry-database migrate up), then run the "
                                  "import again"),
                          THREE_STEP_DOC if three else ONE_STEP_DOC,
                          f"{IMPORT} --step-two" if three else IMPORT)
        if phase == "imported":
            text = _("the tags are imported: set registry['database'] 'enabled' => true, "
                     "remove the read-only maintenance section from registry['storage'], and "
                     "reconfigure (then step three, with the registry in use)") if three else \
                _("the tags are imported: set registry['database'] 'enabled' => true, remove "
                  "the read-only maintenance section from registry['storage'], and reconfigure")
            return Action(name, text,
                          doc, f"{RECONFIGURE} && {IMPORT} --step-three" if three
                          else RECONFIGURE)
        return None

    # -- each row's fix and order ---------------------------------------------------------------
    def fix(self, row: Row, result: Result) -> tuple[int, str | None]:
        """The row's place (FIRST, NOW, LATER) and the fix for this state (None: the check's
        own remediation fits)."""
        check = row.check.id
        if result.outcome not in (Outcome.FAIL, Outcome.WARN, Outcome.ERROR):
            return NOW, None
        if check in (STOPPED, ORDER) and result.outcome == Outcome.FAIL:
            return FIRST, None  # the blocking cause: act on it before anything else
        if row.site is None or self.phase(row.site) in (None, "imported", "finished"):
            return NOW, None
        action = self.import_action(row.site)
        assert action is not None
        phase, name = self.phase(row.site), row.site.name
        if phase == "interrupted":
            return LATER, _("not yet: {site}'s import stopped half-way; first restore and "
                            "re-run it (see IMP-005), then: {fix}").format(
                site=name, fix=_(row.check.remediation))
        if check == FINISHED:
            return NOW, _("{site}: {action}: {command}").format(
                site=name, action=action.text, command=action.command)
        if check == READ_ONLY_UNTIL_TAGS and phase == "begun":
            return NOW, None  # read-only is the next thing before step two
        if check in FOLLOW_UP or check == READ_ONLY_UNTIL_TAGS:
            return LATER, _("not yet, {site} is not imported: first {action} ({command}); "
                            "only after that: {fix}").format(
                site=name, action=action.text, command=action.command,
                fix=_(row.check.remediation))
        return NOW, None

    def arrange(self, outcomes: list[tuple[Row, Result]]) -> list[tuple[Row, Result]]:
        """The rows with the fix for this state, in the order to act on them: the blocking
        cause first, then what to do now (blocking before advisory), then what comes after."""
        placed = []
        for i, (row, result) in enumerate(outcomes):
            order, fix = self.fix(row, result)
            if fix is not None:
                result = replace(result, fix=fix)
            placed.append(((order, not row.blocking, i), row, result))
        return [(row, result) for _, row, result in sorted(placed, key=lambda p: p[0])]

    # -- the next action of the judged step -----------------------------------------------------
    def next_actions(self, step: Step, sites: list[str]) -> list[Action]:
        """For READY and IN PROGRESS: what to run next on each site that still needs the
        step. A replication step without --canary has healthy counts at best: its proof
        needs --canary, and nothing here calls it done."""
        if any(e.check.id == "REP-003" for e in step.completes):
            return [] if self.canary else [Action(
                None, _("replication counts are healthy, which is not yet proof: run again "
                        "with --canary (it pushes one tiny image to the primary's registry and "
                        "waits for it on every secondary) or waive REP-003 with a "
                        "justification"),
                self.profile.doc,
                f"geopreflight --profile={self.profile.name} --step={step.id} --canary")]
        by_name = {s.name: s for s in self.inventory.sites}
        out = []
        for name in sites:
            site = by_name.get(name)
            action = self.import_action(site) if site is not None and \
                any(e.check.id == BEGUN for e in step.started) else None
            out.append(action or Action(name, _(step.title), self.profile.doc))
        return out


def acting_sites(step: Step, inventory: Inventory, method: str | None) -> list[str]:
    """The sites the step's action touches: those its `started` or `completes` rows (a step
    that only checks: its `requires` rows) apply to; every site when those rows are all
    deployment-wide."""
    entries = (step.started + step.completes) or step.requires
    named = {r.site.name for r in rows(entries, inventory, blocking=True, method=method)
             if r.site is not None}
    return [s.name for s in inventory.sites if s.name in named or not named]


def not_acted_on(site: str, step: str, acting: list[str]) -> str:
    """`--site` names a site the step's action does not touch: judging it would pass on the
    baseline rows alone."""
    return _("--site={site}: step {step} does not act on {site} (it acts on {acting}); name "
             "one of those sites, or the step that acts on this one (--list-steps shows the "
             "steps)").format(site=site, step=step,
                              acting=_(", ").join(acting) or _("no site of this inventory"))
