"""What the operator is told to do, on the lab (issue 22): the first row of the table is the one
to act on in the three states where a check's own fix would harm (the primary imported before
the secondary, an interrupted import, a three-step import after step one), and READY and IN
PROGRESS end with a `next:` line (terminal, summary.json `next`, report.html) naming the site,
GitLab's exact command and its page, through both import methods; without --canary the last
step says that proof needs --canary and never that it is done."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from labrun import run_now
from projectfixtures import SUMMARY_SCHEMA
from standin import run_pytest

pytestmark = pytest.mark.lab
PROFILE = "migrate-legacy"
SEC, PRI = "us-secondary", "eu-primary"
IMPORT = "sudo gitlab-ctl registry-database import"
ONE_STEP_DOC = "container_registry_metadata_database_one_step_import"
THREE_STEP_DOC = "container_registry_metadata_database_three_step_import"
HARMFUL = ("Finish the site's import", "Set 'enabled' => true in registry['database']",
           "Remove the maintenance section")  # REG-006, HOST-002, REG-011: after an import


def table(summary: dict) -> list[str]:
    """The terminal's table of rows that did not pass, in the order shown."""
    lines = summary["stdout"].splitlines()
    start = next(i for i, x in enumerate(lines) if x.endswith("did not pass:"))
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        rows.append(line)
    return rows


def first_fix(summary: dict) -> tuple[str, str]:
    """The first row shown (its id and site) and its whole fix, from summary.json."""
    first = table(summary)[0].split()
    row = next(c for c in summary["checks"] if c["id"] == first[1] and c["site"] == first[2])
    return f"{row['id']}@{row['site']}", row["remediation"]


def next_of(summary: dict) -> list[dict]:
    return summary.get("next", [])


def test_primary_imported_before_the_secondary_first_says_import_the_secondary(lab):
    d = lab("legacy-both", fresh=True)
    try:
        d.act(f"import --site {PRI}")
        d.act(f"finish-import --site {PRI}")
        s = run_now(d, PROFILE)
    finally:
        d.down()
    assert s["verdict"] == "NOT_READY"
    where, fix = first_fix(s)
    assert where == f"IMP-002@{SEC}" and IMPORT in fix, (where, fix)
    # the follow-up rows (database on, read-only off) say "not yet" and come after it
    for c in s["checks"]:
        if c["site"] == SEC and c["id"] in ("REG-006", "REG-011", "HOST-002"):
            assert c["remediation"].startswith(f"not yet, {SEC} is not imported"), c
    assert not any(h in table(s)[0] for h in HARMFUL), table(s)[0]


def test_an_interrupted_import_first_says_restore_and_rerun(lab):
    s = run_now(lab("secondary-interrupted-import"), PROFILE)
    assert s["verdict"] == "NOT_READY"
    where, fix = first_fix(s)
    assert where == f"IMP-005@{SEC}" and "restore" in fix, (where, fix)
    later = [c for c in s["checks"] if c["id"] == "REG-006" and c["site"] == SEC]
    assert later and later[0]["remediation"].startswith("not yet"), later
    assert "next" not in s  # NOT READY: the table says what to do


@pytest.fixture(scope="module")
def three(lab):
    """The three-step import of the secondary, then the primary, with a run after each move."""
    d = lab("legacy-both", fresh=True)
    out = {}
    try:
        for label, acts in [
            ("start", [f"set-read-only --site {SEC} off"]),
            ("after-one", [f"import --site {SEC} --step one"]),
            ("after-two", [f"set-read-only --site {SEC} on", f"import --site {SEC} --step two"]),
            ("after-three", [f"finish-import --site {SEC}", f"import --site {SEC} --step three"]),
        ]:
            for act in acts:
                d.act(act)
            out[label] = run_now(d, PROFILE, "--import-method=three-step")
    finally:
        d.down()
    return out


def test_three_step_after_step_one_first_says_read_only_then_step_two(three):
    s = three["after-one"]
    assert s["verdict"] == "IN_PROGRESS"
    where, fix = first_fix(s)
    assert where in (f"IMP-002@{SEC}", f"IMP-006@{SEC}"), where
    assert "read-only" in fix and not any(h in fix for h in HARMFUL), fix
    assert not any(h in table(s)[0] for h in HARMFUL), table(s)[0]
    assert next_of(s) == [{"site": SEC, "action": next_of(s)[0]["action"],
                           "command": f"{IMPORT} --step-two",
                           "doc": next_of(s)[0]["doc"]}]
    assert THREE_STEP_DOC in next_of(s)[0]["doc"] and "read-only" in next_of(s)[0]["action"]


def test_three_step_next_at_every_stage(three):
    assert next_of(three["start"])[0]["command"] == f"{IMPORT} --step-one"
    assert three["start"]["verdict"] == "READY"
    after_two = next_of(three["after-two"])[0]
    assert three["after-two"]["verdict"] == "IN_PROGRESS"
    assert after_two["command"] == f"sudo gitlab-ctl reconfigure && {IMPORT} --step-three"
    assert "'enabled' => true" in after_two["action"]
    primary = next_of(three["after-three"])
    assert three["after-three"]["step"] == "import-primary"
    assert [(n["site"], n["command"]) for n in primary] == [(PRI, f"{IMPORT} --step-one")]


@pytest.fixture(scope="module")
def one(lab):
    d = lab("legacy-both", fresh=True)
    out = {}
    try:
        for label, acts, args in [
            ("start", [], ()),
            ("importing", [f"import --site {SEC}"], ()),
            ("primary-next", [f"finish-import --site {SEC}"], ()),
            ("importing-primary", [f"import --site {PRI}"], ()),
            ("no-canary", [f"finish-import --site {PRI}"], ()),
        ]:
            for act in acts:
                d.act(act)
            out[label] = run_now(d, PROFILE, *args)
    finally:
        d.down()
    return out


def test_one_step_next_names_the_site_the_command_and_the_page(one):
    s = one["start"]
    assert (s["step"], s["verdict"]) == ("import-secondary", "READY")
    [n] = next_of(s)
    assert (n["site"], n["command"]) == (SEC, IMPORT) and ONE_STEP_DOC in n["doc"]
    line = [x for x in s["stdout"].splitlines() if x.startswith("next: ")]
    assert line and f"on {SEC}" in line[0] and IMPORT in line[0] and ONE_STEP_DOC in line[0]
    # the verdict stays the last line
    assert s["stdout"].rstrip().splitlines()[-1] == s["verdict_line"]
    written = json.loads((Path(s["report_dir"]) / "summary.json").read_text())
    jsonschema.validate(written, json.loads(SUMMARY_SCHEMA.read_text()))
    assert written["next"] == next_of(s)
    html = (Path(s["report_dir"]) / "report.html").read_text()
    assert 'id="next"' in html and IMPORT in html


def test_one_step_next_while_in_progress_is_the_follow_up(one):
    for label, site in (("importing", SEC), ("importing-primary", PRI)):
        s = one[label]
        assert s["verdict"] == "IN_PROGRESS", label
        [n] = next_of(s)
        assert (n["site"], n["command"]) == (site, "sudo gitlab-ctl reconfigure"), n
        assert "'enabled' => true" in n["action"]
    assert [(n["site"], n["command"]) for n in next_of(one["primary-next"])] == [(PRI, IMPORT)]


def test_without_canary_the_last_step_says_proof_needs_canary_never_done(one):
    s = one["no-canary"]
    assert (s["step"], s["verdict"]) == ("verify-replication", "READY")
    [n] = next_of(s)
    assert "--canary" in n["command"] and "not yet proof" in n["action"]
    said = s["stdout"] + " ".join(s["notes"])
    assert "done on" not in said and "verified" not in said.lower()


def test_auto_step_with_a_site_it_does_not_act_on_is_a_usage_error(lab, tmp_path):
    """--step=auto finds import-secondary; --site=<primary> would judge baseline rows only."""
    d = lab("legacy-both")
    proc = run_pytest(f"--profile={PROFILE}", f"--inventory={d.dir}/inventory.yml",
                      f"--report-dir={tmp_path}", f"--site={PRI}", env=d.environ())
    assert proc.returncode == 4, proc.stdout[-600:]
    assert f"step import-secondary does not act on {PRI} (it acts on {SEC})" in \
        proc.stdout + proc.stderr
    assert not (tmp_path / "latest").exists()
