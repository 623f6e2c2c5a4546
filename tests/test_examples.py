"""The files in examples/ work as shipped: the inventory and the waivers load (with dummy
secrets in their variables), and the CI job's report paths are the ones a run writes."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from geopreflight.inventory import load_inventory
from geopreflight.suite import load_catalog
from geopreflight.waivers import load_waivers
from projectfixtures import SUMMARY_SCHEMA
from standin import ROOT, run_pytest

EXAMPLES = ROOT / "examples"
SECRETS = {"GEOPREFLIGHT_EU_TOKEN": "glpat-dummy-eu", "GEOPREFLIGHT_EU_DB_PASSWORD": "dummy",
           "GEOPREFLIGHT_US_TOKEN": "glpat-dummy-us",
           "GEOPREFLIGHT_US_DB_DSN": "host=registry-db.us.acme.example dbname=registry user=ro",
           "GEOPREFLIGHT_US_S3_KEY": "AKIADUMMY", "GEOPREFLIGHT_US_S3_SECRET": "dummy-secret"}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def ci() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / ".gitlab-ci.yml").read_text())


def checker_args(job: dict[str, Any]) -> dict[str, str]:
    """The --options of the job's geopreflight command."""
    command = next(line for line in job["script"] if line.lstrip().startswith("geopreflight"))
    return dict(a[2:].split("=", 1) for a in shlex.split(command) if a.startswith("--")
                and "=" in a)


def test_the_example_inventory_and_waivers_load(secrets: None) -> None:
    inv = load_inventory(EXAMPLES / "inventory.yml")
    assert inv.deployment == "acme-prod"
    assert [(s.name, s.role) for s in inv.sites] == [("eu-primary", "primary"),
                                                    ("us-secondary", "secondary")]
    assert all(s.metadata_db and s.host and s.registry for s in inv.sites)
    us = inv.sites[1]
    assert [h.roles for h in us.hosts] == [("rails",), ("sidekiq",), ("registry",)]
    assert all(h.sudo for s in inv.sites for h in s.hosts) and us.registry.storage
    load_catalog()
    waivers = load_waivers(EXAMPLES / "waivers.yml", inv)
    assert waivers and all(w.approver and w.justification for w in waivers)


def test_every_secret_the_inventory_names_is_documented_in_the_ci_file() -> None:
    names = set(re.findall(r"_env: (\w+)", (EXAMPLES / "inventory.yml").read_text()))
    assert names == set(SECRETS)
    text = (EXAMPLES / ".gitlab-ci.yml").read_text()
    assert all(n in text for n in names)


def test_the_ci_job_gates_on_ready_and_treats_6_apart_from_1() -> None:
    doc = ci()
    job = doc[".preflight"]
    matrix = job["parallel"]["matrix"]
    assert len(matrix) >= 2 and all("DEPLOYMENT" in m and "INVENTORY" in m for m in matrix)
    assert job["retry"]["exit_codes"] == [6]  # CANNOT DETERMINE retried, NOT READY never
    assert job["artifacts"]["when"] == "always"
    assert "allow_failure" not in job  # a failed preflight must stop the change
    changes = [name for name, j in doc.items()
               if isinstance(j, dict) and j.get("extends") == ".change"]
    assert changes == ["import-secondary", "import-primary"]
    for name in changes:
        # each change job needs the preflight that judged its own step (--step=$STEP)
        step = doc[name]["variables"]["STEP"]
        need = doc[name]["needs"][0]
        assert step == name and need["parallel"]["matrix"][0] in matrix
        assert doc[need["job"]] == {"extends": ".preflight", "variables": {"STEP": step}}
    assert checker_args(job)["step"] == "$STEP"
    assert any("gate.py reports/preflight/summary.json \"$STEP\"" in line
               for line in doc[".change"]["script"])


def test_the_ci_job_installs_a_pinned_wheel_and_can_reach_ssh_hosts() -> None:
    doc = ci()
    setup = "\n".join(doc[".preflight"]["before_script"])
    assert not re.search(r"pip install\b[^\n]*\bgeopreflight\b(?!.*\.whl)", setup), setup
    assert "sha256sum -c" in setup and re.fullmatch(
        r"[0-9a-f]{64}", doc["variables"]["GEOPREFLIGHT_WHEEL_SHA256"])
    assert doc["variables"]["GEOPREFLIGHT_WHEEL"].endswith(".whl")
    assert "openssh-client" in setup  # the example inventory reads its hosts over ssh://
    assert '"$GEOPREFLIGHT_SSH_KEY"' in setup and '"$GEOPREFLIGHT_SSH_KNOWN_HOSTS"' in setup
    assert "ssh://" in (EXAMPLES / "inventory.yml").read_text()


def test_the_ci_paths_are_what_a_run_writes(lab: Any, tmp_path: Path) -> None:
    job = ci()[".preflight"]
    args = checker_args(job)
    junit = job["artifacts"]["reports"]["junit"]
    folder = f"{args['report-dir']}/{args['report-name']}"
    assert junit == f"{folder}/junit.xml" and job["artifacts"]["paths"] == [f"{folder}/"]
    legacy = lab("legacy-both")
    for _ in range(2):  # the second run replaces the first one's folder, whole
        r = run_pytest("--profile=migrate-legacy", f"--inventory={legacy.inventory}",
                       "--step=import-secondary", f"--report-dir={tmp_path / args['report-dir']}",
                       f"--report-name={args['report-name']}", env=legacy.environ())
        assert r.returncode == 0, r.stdout[-2000:]
        assert (tmp_path / junit).is_file()
        data = json.loads((tmp_path / folder / "summary.json").read_text())
        assert data["deployment"] == "lab-legacy-both"
        assert not (tmp_path / folder / "left-by-the-first-run").exists()
        (tmp_path / folder / "left-by-the-first-run").write_text("")
    entries = sorted(p.name for p in (tmp_path / args["report-dir"]).iterdir())
    assert entries == ["latest", args["report-name"]]


@pytest.mark.parametrize("args, words", [
    (["--junitxml=out.xml"], "--report-name=NAME"),
    (["--report-name=../x"], "expected one folder name"),
    (["--report-name=latest"], "expected one folder name"),
])
def test_report_options_that_cannot_work_are_usage_errors(tmp_path: Path, args: list[str],
                                                          words: str) -> None:
    r = run_pytest("--profile=migrate-legacy", f"--inventory={tmp_path / 'none.yml'}", *args,
                   env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 4 and words in r.stderr, r.stdout + r.stderr
    assert not (ROOT / "out.xml").exists()


def _summary(step: str | None, verdict: str) -> dict[str, Any]:
    """A summary.json of this verdict, valid against the contract's schema."""
    data = {"profile": "migrate-legacy", "requested_step": step or "auto", "step": step,
            "verdict": verdict, "exit_code": {"READY": 0, "COMPLETE": 0, "NOT_READY": 1,
                                              "IN_PROGRESS": 1, "CANNOT_DETERMINE": 6}[verdict],
            "started_at": "2026-12-06T07:00:00Z", "duration_s": 1.0, "tool_version": "0.1.0",
            "inventory_sha256": "0" * 64, "deployment": "acme-prod",
            "steps": [{"id": "import-secondary", "status": "next"}], "checks": []}
    jsonschema.validate(data, json.loads(SUMMARY_SCHEMA.read_text()))
    return data


@pytest.mark.parametrize("step, verdict, passes", [
    ("import-secondary", "READY", True),
    ("import-primary", "READY", False),      # READY for another step gates nothing here
    ("import-secondary", "NOT_READY", False),
    ("import-secondary", "IN_PROGRESS", False),
    ("import-secondary", "CANNOT_DETERMINE", False),
    (None, "COMPLETE", False),
])
def test_the_ci_gate_passes_only_the_judged_step_ready(tmp_path: Path, step: str | None,
                                                      verdict: str, passes: bool) -> None:
    """The change job's own command (examples/gate.py), run as the job runs it."""
    path = tmp_path / "reports" / "preflight" / "summary.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_summary(step, verdict)))
    line = next(x for x in ci()[".change"]["script"] if "gate.py" in x)
    argv = [a.replace("$STEP", "import-secondary") for a in shlex.split(line)]
    proc = subprocess.run([sys.executable, str(EXAMPLES / "gate.py"), *argv[2:]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode == 0) is passes, proc.stdout + proc.stderr
    if not passes:
        assert proc.stderr.startswith("gate: ") and (verdict in proc.stderr or "--step=" in
                                                      proc.stderr), proc.stderr


def test_the_ci_gate_fails_closed_without_a_summary(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "gate.py"), "nowhere.json",
                           "import-secondary"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1 and "no readable summary.json" in proc.stderr
