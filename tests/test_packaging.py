"""geopreflight installs and runs anywhere: the wheel carries the checks and profiles, pytest
finds the plugin through its entry point, and a checker run imports nothing of the lab or the
project's own tests."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from standin import ROOT, run_pytest

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    return next(out.glob("geopreflight-*.whl"))


def test_the_wheel_carries_checks_and_profiles_inside_the_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "geopreflight/checks/test_db.py" in names
    assert "geopreflight/profile_files/migrate-legacy.yml" in names
    assert "geopreflight/profile_files/groups.yml" in names  # the groups profiles share
    # the Japanese catalog, compiled when the wheel was built, beside its source
    assert "geopreflight/locale/ja/LC_MESSAGES/geopreflight.mo" in names
    assert "geopreflight/locale/ja/LC_MESSAGES/geopreflight.po" in names
    assert "geopreflight/data/registry_migrations.json" in names  # DB-008's migration list
    assert not [n for n in names if n.split("/")[0] in ("checks", "lab", "tests", "profiles")]
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[pytest11]" in entry_points and "geopreflight.plugin" in entry_points
    assert "geopreflight = geopreflight.cli:main" in entry_points


def test_a_fresh_venv_runs_a_profile_against_the_lab_from_another_directory(
        wheel: Path, lab, tmp_path: Path) -> None:
    """The operator's install: the wheel and its runtime dependencies only (no test extras,
    no apt, no lab), then `pytest --profile=...` and `geopreflight --profile=...` elsewhere."""
    deployment = lab("legacy-both")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=600)
    elsewhere = tmp_path / "ops"
    elsewhere.mkdir()
    env = {**deployment.environ(), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    listing = subprocess.run([str(venv / "bin" / "pytest"), "--profile=help"], cwd=elsewhere,
                             env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "migrate-legacy" in listing.stdout, listing.stderr
    for command in (["pytest"], ["geopreflight"]):
        reports = elsewhere / command[0]
        proc = subprocess.run([str(venv / "bin" / command[0]), "-p", "no:cacheprovider",
                               "--profile=migrate-legacy",
                               f"--inventory={deployment.inventory}",
                               f"--report-dir={reports}"],
                              cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=300)
        summary = json.loads((reports / "latest" / "summary.json").read_text())
        assert proc.returncode == summary["exit_code"] == 0, proc.stdout[-2000:]
        assert summary["verdict"] in ("READY", "COMPLETE") and summary["checks"], summary
        assert proc.stdout.strip().splitlines()[-1].startswith("geopreflight: migrate-legacy")
    # the installed wheel speaks Japanese from its own compiled catalog
    proc = subprocess.run([str(venv / "bin" / "geopreflight"), "-p", "no:cacheprovider",
                           "--profile=migrate-legacy", f"--inventory={deployment.inventory}",
                           f"--report-dir={elsewhere / 'ja'}"],
                          cwd=elsewhere, env={**env, "GEOPREFLIGHT_LANG": "ja"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "判定: " in proc.stdout.strip().splitlines()[-1], \
        proc.stdout[-2000:]
    # the installed command as an operator runs it (no -p no:cacheprovider): no warning, short
    # check file names in the progress, and no .pytest_cache beside the package or here
    proc = subprocess.run([str(venv / "bin" / "geopreflight"), "--profile=migrate-legacy",
                           f"--inventory={deployment.inventory}", "--report-dir=plain"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "Warning" not in proc.stdout + proc.stderr, proc.stdout[-2000:]
    progress = [x for x in proc.stdout.splitlines() if x.startswith(("checks/", "../", "/"))]
    assert progress and all(x.startswith("checks/test_") for x in progress), progress[:3]
    assert not list(tmp_path.rglob(".pytest_cache")), list(tmp_path.rglob(".pytest_cache"))


def test_a_checker_run_in_the_checkout_imports_nothing_from_lab_or_tests(lab, tmp_path: Path
                                                                        ) -> None:
    deployment = lab("legacy-both")
    spy = tmp_path / "spy"
    spy.mkdir()
    dump = tmp_path / "modules.json"
    (spy / "modulespy.py").write_text(
        "import json, sys\n"
        "def pytest_unconfigure(config):\n"
        f"    json.dump({{n: getattr(m, '__file__', None) or '' for n, m in "
        f"list(sys.modules.items())}}, open({str(dump)!r}, 'w'))\n")
    env = {**deployment.environ(), "PYTHONPATH": str(spy)}
    proc = run_pytest("-p", "modulespy", "--profile=migrate-legacy",
                      f"--inventory={deployment.inventory}",
                      f"--report-dir={tmp_path / 'reports'}", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:]
    modules = json.loads(dump.read_text())
    assert "geopreflight.checks.test_db" in modules
    leaked = sorted(name for name, path in modules.items()
                    if name.split(".")[0] in ("lab", "standin", "labrun", "cryptography", "jwt")
                    or path.startswith((str(ROOT / "lab"), str(ROOT / "tests"))))
    assert not leaked, leaked
