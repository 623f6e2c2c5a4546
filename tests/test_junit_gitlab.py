"""junit.xml as GitLab's test report shows it (issue 22), on the lab: READY with a warning,
NOT READY and CANNOT DETERMINE. GitLab's parser (lib/gitlab/ci/parsers/test/junit.rb) walks
testsuites > testsuite > testcase, and reads a case's `failure`, `error` or `skipped` through
ActiveSupport's `Hash.from_xml`: an element with text becomes that text (its attributes are
dropped), one without text becomes a hash of its attributes, which the page prints as a
serialized hash. `gitlab_view` does the same, so what the assertions see is what people see."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from labrun import run_now
from standin import run_pytest

pytestmark = pytest.mark.lab
PROFILE = "migrate-legacy"


def _from_xml(el: ET.Element | None) -> Any:
    """One element as `Hash.from_xml` gives it: its text when it has any, else its
    attributes (an empty element with none: nil)."""
    if el is None:
        return None
    text = (el.text or "").strip()
    return text if text else (dict(el.attrib) or None)


def gitlab_view(path: Path) -> list[dict[str, Any]]:
    """Every test case as GitLab's parser builds it: suite, name, time, status, output."""
    cases = []
    root = ET.parse(path).getroot()
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            for status in ("failure", "error", "skipped"):
                if case.find(status) is not None:
                    output = _from_xml(case.find(status))
                    break
            else:
                status, output = "success", None
            cases.append({"suite": suite.get("name"), "name": case.get("name"),
                          "time": float(case.get("time") or 0), "status": status,
                          "output": output})
    return cases


def _case(cases: list[dict[str, Any]], check_id: str, site: str) -> dict[str, Any]:
    found = [c for c in cases if c["name"].startswith(f"{check_id} [{site}")]
    assert found, [c["name"] for c in cases]
    return found[0]


def test_ready_with_a_warning_shows_the_warning(lab):
    s = run_now(lab("geo-selective-sync"), PROFILE)
    assert s["verdict"] == "READY"
    warned = [c for c in s["checks"] if c["outcome"] == "warn"]
    assert warned, s["checks"]
    cases = gitlab_view(Path(s["report_dir"]) / "junit.xml")
    site = warned[0]["site"] or "deployment"
    assert any("WARN" in c["suite"] for c in cases if f" {site}" in c["suite"]), \
        {c["suite"] for c in cases}
    # N/A rows are text, never a serialized hash; probes took time
    skipped = [c for c in cases if c["status"] == "skipped"]
    assert skipped and all(isinstance(c["output"], str) and c["output"].startswith(
        "not applicable: ") for c in skipped), skipped[:2]
    timed = [c for c in cases if c["name"].startswith(("VER-", "REG-", "DB-"))
             and c["status"] != "skipped"]  # an N/A row may read no fact at all
    assert timed and all(c["time"] > 0 for c in timed), [c["name"] for c in timed
                                                          if c["time"] == 0]


def test_not_ready_shows_each_failure_with_its_fix_and_the_page(lab):
    d = lab("legacy-both", fresh=True)
    try:
        d.act("set-read-only --site us-secondary off")
        s = run_now(d, PROFILE)
    finally:
        d.down()
    assert s["verdict"] == "NOT_READY"
    case = _case(gitlab_view(Path(s["report_dir"]) / "junit.xml"), "REG-010", "us-secondary")
    assert case["status"] == "failure" and isinstance(case["output"], str), case
    row = next(c for c in s["checks"] if c["id"] == "REG-010" and c["site"] == "us-secondary")
    assert row["message"] in case["output"] and f"fix: {row['remediation']}" in case["output"]
    assert "report.html#REG-010-us-secondary" in case["output"], case["output"]


def test_cannot_determine_errors_carry_their_cause_and_its_fix(lab, tmp_path):
    d = lab("legacy-both")
    inventory = yaml.safe_load((d.dir / "inventory.yml").read_text())
    inventory["sites"][0]["gitlab"]["url"] = "http://127.0.0.1:1"  # a dead GitLab API
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    proc = run_pytest(f"--profile={PROFILE}", f"--inventory={path}", "--step=prerequisites",
                      f"--report-dir={tmp_path / 'r'}", env={**os.environ, **d.environ()})
    assert proc.returncode == 6, proc.stdout[-1500:]
    cases = gitlab_view(tmp_path / "r" / "latest" / "junit.xml")
    errors = [c for c in cases if c["status"] == "error"]
    assert errors
    for c in errors:
        assert isinstance(c["output"], str), c
        if "GitLab API unreachable at http://127.0.0.1:1" in c["output"]:
            assert "fix: make http://127.0.0.1:1 reachable" in c["output"], c["output"]
            assert "Upgrade" not in c["output"]  # not the check's own remediation
    assert any(c["name"].startswith("VER-001") and "GitLab API unreachable at "
               "http://127.0.0.1:1" in c["output"] for c in errors), errors[:3]
