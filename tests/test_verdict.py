"""The verdict table, advisory rows, and the step position rule of --step=auto."""

from __future__ import annotations

from pathlib import Path

import pytest

from geopreflight.catalog import Result
from geopreflight.inventory import GitLab, Inventory, Secret, Site
from geopreflight.position import judged_plan, locate
from geopreflight.profiles import Row, load_profile
from geopreflight.suite import load_catalog
from geopreflight.verdict import EXIT_CODES, Verdict, conclude, decide, final


def r(outcome: str) -> Result:
    return Result(outcome, outcome)


@pytest.mark.parametrize("rows,verdict", [
    ([(True, r("pass")), (True, r("pass"))], "READY"),
    ([(True, r("pass")), (True, r("warn"))], "READY"),
    ([(True, r("pass")), (False, r("error"))], "READY"),
    ([(True, r("not-applicable")), (True, r("waived"))], "READY"),
    ([(True, r("fail")), (True, r("error"))], "NOT_READY"),
    ([(True, r("pass")), (True, r("error"))], "CANNOT_DETERMINE"),
    ([(False, r("fail")), (True, r("pass"))], "READY"),
])
def test_verdict_table(rows: list, verdict: str) -> None:
    assert decide(rows) == verdict


def test_exit_codes_are_the_contract() -> None:
    assert EXIT_CODES == {"READY": 0, "COMPLETE": 0, "NOT_READY": 1, "IN_PROGRESS": 1,
                          "CANNOT_DETERMINE": 6}


def test_a_failed_advisory_row_is_a_warning(tmp_path: Path) -> None:
    load_catalog()
    row = Row(load_profile("migrate-legacy").steps[0].advises[0].check, None, blocking=False)
    assert final(row, r("fail")).outcome == "warn"
    assert final(row, r("error")).outcome == "error"
    blocking = Row(row.check, None, blocking=True)
    assert final(blocking, r("fail")).outcome == "fail"


INVENTORY = Inventory("inv.yml", "d", (
    Site("p", "primary", GitLab("https://p", Secret("x", "$X"))),
    Site("s", "secondary", GitLab("https://s", Secret("x", "$X"))),
))


def judge_with(outcomes: dict[str, str]):
    """A judge that answers per check id; unlisted checks pass."""
    return lambda row: r(outcomes.get(row.check.id, "pass"))


PROFILE = """\
profile: p
title: four steps
doc: https://docs.gitlab.com/administration/
steps:
  - {id: a, title: A, requires: [VER-001]}
  - {id: b, title: B, requires: [VER-001], completes: [GEO-001]}
  - {id: c, title: C, requires: [VER-001], completes: [GEO-002]}
  - {id: d, title: D, requires: [VER-001], completes: [{check: GEO-003, roles: [secondary]}]}
"""


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory):
    load_catalog()
    folder = tmp_path_factory.mktemp("profiles")
    (folder / "p.yml").write_text(PROFILE)
    return load_profile("p", folder)


def statuses(pos) -> str:
    return " ".join(f"{k}={v}" for k, v in pos.statuses.items())


def test_nothing_complete_means_the_first_step(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"VER-001": "fail", "GEO-001": "fail",
                                                 "GEO-002": "fail", "GEO-003": "fail"}))
    assert pos.next_step == "a"
    assert statuses(pos) == "a=next b=pending c=pending d=pending"


def test_the_step_after_the_last_complete_one(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"GEO-002": "fail", "GEO-003": "fail"}))
    assert pos.next_step == "c"
    assert statuses(pos) == "a=complete b=complete c=next d=pending"


def test_earlier_conditions_may_stop_holding(profile) -> None:
    # after c completes, b's condition no longer holds (as after an import): still after c
    pos = locate(profile, INVENTORY, judge_with({"GEO-001": "fail", "GEO-003": "fail"}))
    assert pos.next_step == "d"


def test_every_step_complete_is_complete(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({}))
    assert pos.complete and pos.next_step is None
    assert set(pos.statuses.values()) == {"complete"}


def test_complete_breaks_when_an_invariant_no_longer_holds(profile) -> None:
    """Every step done, but the secondary's DB became the primary's (DB-003): the last step
    is judged again and the invariant blocks it; the plan shows it beside what proved it."""
    judge = judge_with({"DB-003": "fail"})
    pos = locate(profile, INVENTORY, judge)
    assert not pos.complete and pos.next_step == "d" and pos.broken == ["DB-003@s"]
    assert statuses(pos) == "a=complete b=complete c=complete d=next"
    rows = judged_plan(profile, pos, pos.next_step, INVENTORY, judge)
    outcomes = [(row, judge(row)) for row in rows]
    assert conclude(pos, outcomes) == "NOT_READY"
    assert [row.test_id for row in rows if row.blocking] == [
        "DB-003@s", "DB-004@p", "DB-004@s", "DB-005@p", "DB-005@s", "DB-006@p", "DB-006@s",
        "REG-008@p", "REG-008@s", "IMP-007@p", "IMP-007@s", "REG-014@deployment"]
    assert "GEO-003@s" in [row.test_id for row in rows if not row.blocking]


def test_complete_breaks_when_two_sites_come_to_share_storage(profile) -> None:
    """Every step done, then both sites' registries were pointed at one bucket (REG-014, a
    deployment-wide invariant): not COMPLETE, the last step judged again."""
    judge = judge_with({"REG-014": "fail"})
    pos = locate(profile, INVENTORY, judge)
    assert not pos.complete and pos.broken == ["REG-014@deployment"]
    rows = judged_plan(profile, pos, pos.next_step, INVENTORY, judge)
    assert conclude(pos, [(row, judge(row)) for row in rows]) == "NOT_READY"


def test_an_invariant_that_cannot_be_evaluated_is_never_complete(profile) -> None:
    judge = judge_with({"IMP-007": "error"})
    pos = locate(profile, INVENTORY, judge)
    rows = judged_plan(profile, pos, pos.next_step, INVENTORY, judge)
    assert conclude(pos, [(row, judge(row)) for row in rows]) == "CANNOT_DETERMINE"


def test_complete_shows_the_invariants_beside_the_last_steps_completes(profile) -> None:
    judge = judge_with({})
    pos = locate(profile, INVENTORY, judge)
    rows = judged_plan(profile, pos, None, INVENTORY, judge)
    assert conclude(pos, [(row, judge(row)) for row in rows]) == "COMPLETE"
    ids = [row.test_id for row in rows]
    assert "IMP-007@s" in ids and "DB-003@s" in ids and "GEO-003@s" in ids
    assert not any(row.blocking for row in rows)


def test_an_error_deciding_the_position_leaves_it_unknown(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"GEO-002": "error", "GEO-003": "fail"}))
    assert pos.undetermined and not pos.complete and pos.next_step is None
    assert "GEO-002@s" in pos.undetermined[0] or "GEO-002@p" in pos.undetermined[0]
    assert pos.statuses["c"] == "unknown" and pos.statuses["d"] == "pending"


def test_a_later_complete_step_outweighs_an_earlier_error(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"GEO-001": "error", "GEO-003": "fail"}))
    assert pos.next_step == "d"


def test_a_step_that_only_checks_is_complete_when_its_requires_hold(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"GEO-001": "fail", "GEO-002": "fail",
                                                 "GEO-003": "fail"}))
    assert pos.next_step == "b" and pos.statuses["a"] == "complete"


def test_not_applicable_proves_no_completion(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"GEO-003": "not-applicable"}))
    assert not pos.complete and pos.next_step == "d"


STARTED = """\
profile: q
title: an import per secondary
doc: https://docs.gitlab.com/administration/
steps:
  - {id: pre, title: P, requires: [VER-001]}
  - id: imp
    title: I
    requires: [VER-001, {check: REG-010, roles: [secondary]}]
    started: [{check: IMP-003, roles: [secondary]}]
    during: [{check: IMP-005, roles: [secondary]}]
    completes: [{check: REG-006, roles: [secondary]}]
  - id: ver
    title: V
    requires: [VER-001, {check: REP-003, roles: [secondary]}]
    completes: [REG-006, {check: REP-002, roles: [secondary]},
                {check: REP-003, roles: [secondary]}]
"""

TWO = Inventory("inv.yml", "d", (
    Site("p", "primary", GitLab("https://p", Secret("x", "$X"))),
    Site("s1", "secondary", GitLab("https://s1", Secret("x", "$X"))),
    Site("s2", "secondary", GitLab("https://s2", Secret("x", "$X"))),
))


def per_site(table: dict[tuple[str, str | None], str]):
    """A judge per (check id, site); unlisted rows pass."""
    return lambda row: r(table.get((row.check.id, row.site.name if row.site else None),
                                   "pass"))


@pytest.fixture(scope="module")
def importing(tmp_path_factory: pytest.TempPathFactory):
    load_catalog()
    folder = tmp_path_factory.mktemp("profiles")
    (folder / "q.yml").write_text(STARTED)
    return load_profile("q", folder)


def _run(profile, judge, site=None):
    pos = locate(profile, TWO, judge, only_site=site)
    rows = judged_plan(profile, pos, pos.next_step, TWO, judge, only_site=site)
    return pos, rows, conclude(pos, [(row, judge(row)) for row in rows])


def test_a_begun_step_is_in_progress_and_the_plan_is_what_remains(importing) -> None:
    judge = per_site({("REG-006", "s1"): "fail", ("REG-006", "s2"): "fail",
                      ("IMP-003", "s2"): "fail", ("REP-002", "s1"): "fail"})
    pos, rows, verdict = _run(importing, judge)
    assert pos.in_progress and pos.statuses["imp"] == "in-progress"
    assert verdict == Verdict.IN_PROGRESS
    assert {r.test_id for r in rows} == {"IMP-005@s1", "IMP-005@s2", "REG-006@s1",
                                         "REG-006@s2"}


def test_a_failing_during_row_makes_a_step_in_progress_not_ready(importing) -> None:
    judge = per_site({("REG-006", "s1"): "fail", ("IMP-005", "s1"): "fail",
                      ("REP-002", "s1"): "fail"})
    assert _run(importing, judge)[2] == Verdict.NOT_READY


def test_one_secondary_done_and_one_not_begun_is_judged_for_the_one_left(importing) -> None:
    judge = per_site({("REG-006", "s2"): "fail", ("IMP-003", "s2"): "fail",
                      ("REP-002", "s1"): "fail"})
    pos, rows, verdict = _run(importing, judge)
    assert not pos.in_progress and pos.next_step == "imp"
    assert pos.done == ["s1"] and pos.left == ["s2"]
    assert verdict == Verdict.READY
    assert not [r for r in rows if r.site and r.site.name == "s1"]


def test_site_narrows_a_per_site_step_to_that_secondary(importing) -> None:
    judge = per_site({("REG-006", "s2"): "fail", ("IMP-003", "s2"): "fail",
                      ("REP-002", "s1"): "fail", ("REP-002", "s2"): "fail"})
    assert _run(importing, judge, site="s2")[0].next_step == "imp"
    # s1 is imported: narrowed to s1, the import step is complete there
    assert _run(importing, judge, site="s1")[0].next_step == "ver"


def test_without_the_canary_proof_the_last_step_is_judged_never_complete(importing) -> None:
    judge = per_site({("REP-003", "s1"): "not-applicable", ("REP-003", "s2"): "not-applicable"})
    pos, rows, verdict = _run(importing, judge)
    assert pos.next_step == "ver" and not pos.complete
    assert verdict == Verdict.READY


def test_complete_reports_the_rows_that_prove_it(importing) -> None:
    pos, rows, verdict = _run(importing, per_site({}))
    assert verdict == Verdict.COMPLETE
    assert rows and all(not r.blocking for r in rows)
    assert {r.check.id for r in rows} == {"REG-006", "REP-002", "REP-003", "DB-003", "DB-004",
                                          "DB-005", "DB-006", "REG-008", "IMP-007",
                                          "REG-014"}


def test_a_mixed_step_done_on_one_site_does_not_move_the_position(importing) -> None:
    """The last step proves every site (REG-006 on the primary too): a secondary that passes
    it while the primary is not imported does not skip the primary's steps."""
    judge = per_site({("REG-006", "p"): "fail", ("REP-002", "s2"): "fail"})
    pos, _, _ = _run(importing, judge)
    assert pos.next_step == "ver" and pos.statuses["imp"] == "complete"
    judge = per_site({("REG-006", "s2"): "fail", ("IMP-003", "s2"): "fail"})
    assert _run(importing, judge)[0].next_step == "imp"
