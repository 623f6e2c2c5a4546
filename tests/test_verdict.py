"""The verdict table, advisory rows, and the step position rule of --step=auto."""

from __future__ import annotations

from pathlib import Path

import pytest

from geopreflight.catalog import Result
from geopreflight.inventory import GitLab, Inventory, Secret, Site
from geopreflight.plugin import load_catalog
from geopreflight.profiles import Row, load_profile
from geopreflight.verdict import EXIT_CODES, decide, final, locate


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
    assert EXIT_CODES == {"READY": 0, "COMPLETE": 0, "NOT_READY": 1, "CANNOT_DETERMINE": 6}


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
    pos = locate(profile, INVENTORY, judge_with({"GEO-001": "fail", "GEO-002": "fail",
                                                 "GEO-003": "fail"}))
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


def test_an_error_deciding_the_position_leaves_it_unknown(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"GEO-002": "error", "GEO-003": "fail"}))
    assert pos.undetermined and not pos.complete and pos.next_step is None
    assert "GEO-002@s" in pos.undetermined[0] or "GEO-002@p" in pos.undetermined[0]
    assert pos.statuses["c"] == "unknown" and pos.statuses["d"] == "pending"


def test_a_later_complete_step_outweighs_an_earlier_error(profile) -> None:
    pos = locate(profile, INVENTORY, judge_with({"GEO-001": "error", "GEO-003": "fail"}))
    assert pos.next_step == "d"
