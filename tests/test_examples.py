"""The files in examples/ work as shipped: the inventory and the waivers load (with dummy
secrets in their variables), and the CI job's report paths are the ones a run writes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from geopreflight.inventory import load_inventory
from geopreflight.suite import load_catalog
from geopreflight.waivers import load_waivers
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
    job = doc["preflight"]
    matrix = job["parallel"]["matrix"]
    assert len(matrix) >= 2 and all("DEPLOYMENT" in m and "INVENTORY" in m for m in matrix)
    assert job["retry"]["exit_codes"] == [6]  # CANNOT DETERMINE retried, NOT READY never
    assert job["artifacts"]["when"] == "always"
    change = doc["import-secondary"]
    need = change["needs"][0]
    assert need["job"] == "preflight" and need["parallel"]["matrix"][0] in matrix
    assert "allow_failure" not in job  # a failed preflight must stop the change


def test_the_ci_paths_are_what_a_run_writes(lab: Any, tmp_path: Path) -> None:
    job = ci()["preflight"]
    args = checker_args(job)
    junit = job["artifacts"]["reports"]["junit"]
    folder = f"{args['report-dir']}/{args['report-name']}"
    assert junit == f"{folder}/junit.xml" and job["artifacts"]["paths"] == [f"{folder}/"]
    legacy = lab("legacy-both")
    for _ in range(2):  # the second run replaces the first one's folder, whole
        r = run_pytest("--profile=migrate-legacy", f"--inventory={legacy.inventory}",
                       f"--report-dir={tmp_path / args['report-dir']}",
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
