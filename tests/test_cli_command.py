"""The `geopreflight` command: pytest with the plugin from any directory, every pytest option
passed through, its exit code the verdict's; usage errors are exit 4 without a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from geopreflight import __version__, cli


def geopreflight(*args: str, cwd: Path, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geopreflight.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_it_runs_the_checker_from_any_directory(deployment, tmp_path: Path) -> None:
    d = deployment(version="17.2.9-ee")  # below the 17.3 floor: NOT READY
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = geopreflight("--profile=migrate-legacy", "--step=prerequisites",
                     f"--inventory={d.inventory()}", "--report-dir=reports", "-p",
                     "no:cacheprovider", "-k", "VER", "-rN", cwd=elsewhere, env=d.env())
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith(
        "geopreflight: migrate-legacy step prerequisites (1/4): NOT READY")
    summary = json.loads((elsewhere / "reports" / "latest" / "summary.json").read_text())
    assert summary["exit_code"] == 1
    assert "deselected" in r.stdout, "-k passed through to pytest"


def test_help_and_listing_exit_0(tmp_path: Path) -> None:
    r = geopreflight("--profile=help", cwd=tmp_path)
    assert r.returncode == 0 and "migrate-legacy" in r.stdout
    r = geopreflight("--profile=migrate-legacy", "--list-steps", cwd=tmp_path)
    assert r.returncode == 0 and "ATT-002 (secondary)" in r.stdout, r.stdout
    r = geopreflight("--help", cwd=tmp_path)
    assert r.returncode == 0 and "--attestations" in r.stdout and "--sign-with" in r.stdout


def test_list_steps_prints_the_shared_groups_once(tmp_path: Path) -> None:
    r = geopreflight("--profile=migrate-legacy", "--list-steps", cwd=tmp_path)
    assert r.returncode == 0
    # DB-006 sits in the baseline every step repeats: its title once, the group named per step
    assert r.stdout.count("The inventory's database is the one the registry uses") == 1
    assert len(re.findall(r"requires  group import-baseline \(\d+ checks, listed above\)",
                          r.stdout)) == 4
    assert r.stdout.count("group import-baseline (") == 5  # defined once, named by the four steps
    assert len(r.stdout.splitlines()) < 130


def test_version_is_geopreflight_s_then_pytest_s(tmp_path: Path) -> None:
    r = geopreflight("--version", cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout.strip() == f"geopreflight {__version__} (pytest {pytest.__version__})"


def test_help_leads_with_geopreflight_usage_and_subcommands(tmp_path: Path) -> None:
    r = geopreflight("--help", cwd=tmp_path)
    assert r.returncode == 0
    head = r.stdout.split("usage: pytest")[0]
    assert head.startswith(f"geopreflight {__version__}: ")
    assert "geopreflight verify BUNDLE" in head and "geopreflight diff BEFORE AFTER" in head
    assert "--profile=NAME" in head and len(head.splitlines()) < 40


@pytest.mark.parametrize("args,words", [
    (["--profle=migrate-legacy"], "unknown option --profle: did you mean --profile?"),
    (["--profile=migrate-legacy", "--inventroy=x.yml"], "did you mean --inventory?"),
    ([], "no --profile given"),
    (["-k", "VER"], "no --profile given"),
    (["--profile=nope"], "unknown profile 'nope'"),
    (["verify"], "the following arguments are required: BUNDLE"),
    (["verify", "missing.tar.gz"], "missing.tar.gz: no such evidence bundle"),
    (["verify", "x", "--allowed-signers"], "expected one argument"),
    (["diff", "a"], "required: AFTER"),
])
def test_usage_errors_exit_4_with_a_message(tmp_path: Path, args: list[str], words: str) -> None:
    r = geopreflight(*args, cwd=tmp_path)
    assert r.returncode == 4 and words in r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    if "did you mean" in words:
        assert "no --profile given" not in r.stderr


def test_main_returns_the_code_in_process(tmp_path: Path, capsys) -> None:
    assert cli.main(["verify", str(tmp_path / "none.tar.gz")]) == 4
    assert "no such evidence bundle" in capsys.readouterr().err
    assert cli.main(["diff", "--help"]) == 0
