"""Walk migrate-legacy on the lab: prerequisites -> import-secondary -> import-primary ->
verify-replication, the lab's actions one by one, `--step=auto` after each: the one-step and
the three-step import, two secondaries imported one at a time with `--site`, and the
out-of-order moves, each NOT READY naming the check that caught it (issue 7)."""

from __future__ import annotations

import pytest

from labrun import (
    blocking_failures,
    expect,
    needs_canary,
    proves_completion,
    row,
    run_now,
    walk,
)

pytestmark = pytest.mark.lab
PROFILE = "migrate-legacy"
SEC, PRI, AP = "us-secondary", "eu-primary", "ap-secondary"
ONE_STEP = [
    ("start", [], ()),
    ("primary-alone", [], (f"--site={PRI}", "--step=import-primary")),
    ("read-write", [f"set-read-only --site {SEC} off"], ()),
    ("importing", [f"set-read-only --site {SEC} on", f"import --site {SEC}"], ()),
    ("secondary-done", [f"finish-import --site {SEC}"], ()),
    ("importing-primary", [f"import --site {PRI}"], ()),
    ("both-done", [f"finish-import --site {PRI}"], ()),
]
THREE_STEP = [
    ("start", [f"set-read-only --site {SEC} off"], ()),
    ("after-one", [f"import --site {SEC} --step one"], ()),
    ("after-two", [f"set-read-only --site {SEC} on", f"import --site {SEC} --step two"], ()),
    ("after-three", [f"finish-import --site {SEC}", f"import --site {SEC} --step three"], ()),
]
TWO_SECONDARIES = [
    ("start", [], ()),
    ("us-done", [f"import --site {SEC}", f"finish-import --site {SEC}"], ()),
    ("us-done-ap", [], (f"--site={AP}",)),
    ("us-done-primary", [], (f"--site={PRI}", "--step=import-primary")),
    ("ap-importing", [f"import --site {AP}"], (f"--site={AP}",)),
    ("secondaries-done", [f"finish-import --site {AP}"], ()),
    ("both-done", [f"import --site {PRI}", f"finish-import --site {PRI}"], ()),
]


@pytest.fixture(scope="module")
def one(lab):
    return walk(lab, "legacy-both", PROFILE, ONE_STEP)


@pytest.fixture(scope="module")
def three(lab):
    stages = [(label, acts, ("--import-method=three-step", *args))
              for label, acts, args in THREE_STEP]
    return walk(lab, "legacy-both", PROFILE, stages, proof=False)


@pytest.fixture(scope="module")
def two(lab):
    return walk(lab, "two-secondaries-legacy", PROFILE, TWO_SECONDARIES)


def named(summary, check_id, site):
    assert (check_id, site) in blocking_failures(summary), blocking_failures(summary)


# -- one-step, one secondary ----------------------------------------------------------------------
def test_textbook_legacy_both_is_ready_to_import_the_secondary(one):
    expect(one["start"], "import-secondary", "READY",
           {"prerequisites": "complete", "import-secondary": "next",
            "import-primary": "pending", "verify-replication": "pending"})


def test_importing_the_primary_first_is_not_ready_whatever_site_says(one):
    s = one["primary-alone"]
    expect(s, "import-primary", "NOT_READY", {})
    assert any(site in (SEC, None) for _, site in blocking_failures(s)), blocking_failures(s)


def test_a_read_write_secondary_is_not_ready_naming_reg_010(one):
    expect(one["read-write"], "import-secondary", "NOT_READY")
    named(one["read-write"], "REG-010", SEC)


def test_between_import_and_finish_import_the_import_is_in_progress(one):
    s = one["importing"]
    expect(s, "import-secondary", "IN_PROGRESS")
    assert "left to finish it" in s["verdict_line"]
    # the plan is what remains, and IMP-005 and IMP-007: what must hold while it is under
    # way (IMP-007, the content, passes: the rows are all there, finish-import is not done)
    assert s["checks"] and all(c["outcome"] != "pass" for c in s["checks"] if c["blocking"]
                               and c["id"] not in ("IMP-005", "IMP-007"))
    assert row(s, "IMP-007", SEC)["outcome"] == "pass"


def test_the_imported_secondary_moves_on_to_the_primary(one):
    expect(one["secondary-done"], "import-primary", "READY",
           {"import-secondary": "complete", "import-primary": "next"})


def test_the_primary_mid_import_is_in_progress(one):
    expect(one["importing-primary"], "import-primary", "IN_PROGRESS")


def test_without_canary_verify_replication_is_judged_not_complete(one):
    needs_canary(one["no-canary"], "verify-replication")


def test_the_canary_completes_the_migration(one):
    proves_completion(one["canary"])


def test_a_waiver_on_rep_003_completes_the_migration(one):
    proves_completion(one["waived"])


# -- three-step ---------------------------------------------------------------------------------
def test_three_step_import_may_start_read_write(three):
    expect(three["start"], "import-secondary", "READY")


def test_after_step_one_the_import_is_in_progress(three):
    expect(three["after-one"], "import-secondary", "IN_PROGRESS")


def test_after_step_two_the_import_is_in_progress(three):
    expect(three["after-two"], "import-secondary", "IN_PROGRESS")


def test_after_step_three_the_primary_is_next(three):
    expect(three["after-three"], "import-primary", "READY")


# -- two secondaries, one at a time ---------------------------------------------------------------
def test_two_legacy_secondaries_are_ready_to_import(two):
    s = two["start"]
    expect(s, "import-secondary", "READY")
    assert SEC in s["stdout"] and AP in s["stdout"]


def test_one_secondary_imported_the_other_remains(two):
    """Progress is per site: one imported, the other not started is READY, not IN PROGRESS,
    and the terminal says which is done and which remains."""
    s = two["us-done"]
    expect(s, "import-secondary", "READY")
    assert SEC in s["stdout"] and AP in s["stdout"]


def test_site_names_the_secondary_that_remains(two):
    expect(two["us-done-ap"], "import-secondary", "READY")


def test_the_primary_waits_for_every_secondary(two):
    s = two["us-done-primary"]
    expect(s, "import-primary", "NOT_READY", {})
    assert any(site in (AP, None) for _, site in blocking_failures(s)), blocking_failures(s)


def test_the_second_secondary_mid_import_is_in_progress(two):
    expect(two["ap-importing"], "import-secondary", "IN_PROGRESS")


def test_both_secondaries_imported_moves_on_to_the_primary(two):
    expect(two["secondaries-done"], "import-primary", "READY")


def test_the_canary_completes_three_sites(two):
    proves_completion(two["canary"])


# -- out of order and broken states ---------------------------------------------------------------
def test_primary_imported_first_is_not_ready_naming_the_secondary(lab):
    d = lab("legacy-both", fresh=True)
    try:
        d.act(f"import --site {PRI}")
        d.act(f"finish-import --site {PRI}")
        s = run_now(d, PROFILE)
    finally:
        d.down()
    assert s["verdict"] == "NOT_READY" and s["returncode"] == 1
    assert any(site == SEC for _, site in blocking_failures(s)), blocking_failures(s)


def test_replication_failing_after_the_imports_is_not_ready_naming_rep_002(lab):
    s = run_now(lab("replication-failing-imported"), PROFILE)
    expect(s, "verify-replication", "NOT_READY")
    named(s, "REP-002", SEC)


def test_an_interrupted_import_is_not_ready_with_a_way_to_resume(lab):
    s = run_now(lab("secondary-interrupted-import"), PROFILE)
    expect(s, "import-secondary", "NOT_READY", {"import-secondary": "in-progress"})
    assert any(site == SEC for _, site in blocking_failures(s)), blocking_failures(s)
