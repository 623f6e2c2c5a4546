"""The change window: the estimator on recorded counts and statistics (pure), and on the lab
the calibrated estimate, `--watch` following a slowed import to its end, and a frozen import
reported as a stall."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from geopreflight.estimate import Content, Run, estimate, runs_of
from geopreflight.probes.models import ImportRun
from projectfixtures import SUMMARY_SCHEMA
from standin import as_foreground_job

ROOT = Path(__file__).resolve().parent.parent

# import_statistics rows as the registry's statistics API shows them (docs/spec/gitlab/api.md)
ONE_STEP = ImportRun(1, pre_import=True, tag_import=True, blob_import=True,
                     storage_driver="s3", started_at="2026-01-10T10:00:00+00:00",
                     finished_at="2026-01-10T11:00:00+00:00", tags_count=36000)
STEP_ONE = ImportRun(2, pre_import=True, tag_import=False, blob_import=False,
                     storage_driver="s3", started_at="2026-01-10T10:00:00+00:00",
                     finished_at="2026-01-10T20:00:00+00:00", manifests_count=40000)
STEP_TWO = ImportRun(3, pre_import=False, tag_import=True, blob_import=False,
                     storage_driver="s3", started_at="2026-01-11T10:00:00+00:00",
                     finished_at="2026-01-11T10:30:00+00:00", tags_count=40000)
FAILED = ImportRun(4, pre_import=False, tag_import=True, blob_import=False,
                   storage_driver="s3", started_at="2026-01-11T10:00:00+00:00",
                   tag_import_error="context canceled")
UNFINISHED = ImportRun(5, pre_import=True, tag_import=True, blob_import=True,
                       storage_driver="s3", started_at="2026-01-11T10:00:00+00:00")


def test_finished_runs_become_calibration_and_failed_ones_do_not():
    runs = runs_of("us", [ONE_STEP, STEP_ONE, STEP_TWO, FAILED, UNFINISHED])
    assert [(r.phase, r.seconds, r.tags) for r in runs] == [
        ("import", 3600.0, 36000), ("step-one", 36000.0, 40000), ("step-two", 1800.0, 40000)]


def test_a_secondary_import_calibrates_the_primary_within_its_margins():
    sec = runs_of("us-secondary", [ONE_STEP])
    e = estimate("eu-primary", Content(tags=72000), "s3", "one-step", others=sec)
    (phase,) = e.phases
    assert (phase.low_s, phase.high_s) == (0.8 * 7200, 1.5 * 7200)
    assert phase.basis.startswith("calibrated from us-secondary's finished one-step import")
    assert e.read_only_s == (phase.low_s, phase.high_s)


def test_own_runs_are_trusted_before_other_sites_and_previous_evidence():
    own = [Run("eu", "import", 10.0, 100, "s3", "import_statistics")]
    other = [Run("us", "import", 1000.0, 100, "s3", "import_statistics")]
    previous = [Run("us", "import", 5000.0, 100, "s3", "evidence")]
    assert estimate("eu", Content(tags=100), "s3", "one-step", own=own, others=other,
                    previous=previous).phases[0].high_s == 15.0
    assert estimate("eu", Content(tags=100), "s3", "one-step", others=other,
                    previous=previous).phases[0].high_s == 1500.0
    assert estimate("eu", Content(tags=100), "s3", "one-step", previous=previous
                    ).phases[0].basis.startswith("calibrated from a previous run: us's")
    assert estimate("eu", Content(tags=100), "s3", "one-step",
                    previous=previous).phases[0].high_s == 7500.0


def test_runs_on_another_backend_widen_the_range_and_say_so():
    fs = [Run("us", "import", 100.0, 100, "filesystem", "import_statistics")]
    (phase,) = estimate("eu", Content(tags=100), "gcs", "one-step", others=fs).phases
    assert (phase.low_s, phase.high_s) == (40.0, 450.0)
    assert "widened" in phase.basis


def test_published_rates_without_calibration_are_wide_and_cited():
    (s3,) = estimate("eu", Content(tags=1000), "s3", "one-step").phases
    (gcs,) = estimate("eu", Content(tags=1000), "gcs", "one-step").phases
    assert s3.basis.startswith("published rates") and "https://docs.gitlab.com/" in s3.basis
    assert s3.high_s / s3.low_s >= 25 and gcs.low_s > s3.low_s  # GCS is the slower one
    sized = estimate("eu", Content(tags=1000, bytes=100 * 10**9), "s3", "one-step").phases[0]
    assert sized.low_s == 480.0  # 100 GB in 8 minutes on S3


def test_three_step_puts_only_step_two_in_the_read_only_window():
    e = estimate("eu", Content(tags=1000, bytes=4 * 10**12), "s3", "three-step")
    assert [(p.phase, p.read_only) for p in e.phases] == [
        ("step-one", False), ("step-two", True), ("step-three", False)]
    one, two, _ = e.phases
    assert (one.low_s, one.high_s) == (3600.0, 7200.0)  # 2 to 4 TB an hour
    assert e.read_only_s == (two.low_s, two.high_s) == (0.04 * 3600, 0.10 * 7200)
    assert estimate("eu", Content(tags=1000), "s3", "three-step",
                    others=runs_of("us", [STEP_TWO])).phases[1].basis.startswith("calibrated")


def test_no_tag_count_is_no_estimate():
    with pytest.raises(ValueError):
        estimate("eu", Content(tags=None), "s3", "one-step")


# -- on the lab ----------------------------------------------------------------------------

def _checker(d, tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--profile=migrate-legacy", f"--inventory={d.dir / 'inventory.yml'}",
         f"--report-dir={tmp / 'reports'}", *args],
        cwd=ROOT, env={**os.environ, **d.env}, capture_output=True, text=True,
        timeout=timeout)


def _import(d, site: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lab", "import", "--dir", str(d.dir),
                             "--site", site, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _summary(tmp: Path) -> dict:
    """summary.json, valid against the shared schema (`estimate`, `measured` are additions)."""
    data = json.loads((tmp / "reports" / "latest" / "summary.json").read_text())
    jsonschema.validate(data, json.loads(SUMMARY_SCHEMA.read_text()))
    return data


def test_the_secondary_calibrates_the_primary_and_the_primary_lands_in_range(fresh_lab,
                                                                              tmp_path):
    d = fresh_lab("secondary-imported-timed")
    before = _checker(d, tmp_path, "--step=import-primary")
    (row,) = [e for e in _summary(tmp_path)["estimate"] if e["site"] == "eu-primary"]
    assert row["basis"].startswith("calibrated from us-secondary's finished one-step import")
    assert "estimate for import-primary" in before.stdout
    assert "eu-primary  read-only for" in before.stdout
    html = (tmp_path / "reports" / "latest" / "report.html").read_text()
    assert '<table id="estimate">' in html and '<table id="measured">' in html
    imp = _import(d, "eu-primary", "--rate", "4")
    assert imp.wait(60) == 0
    _checker(d, tmp_path, "--step=import-primary")
    after = _summary(tmp_path)
    (done,) = [m for m in after["measured"] if m["site"] == "eu-primary"]
    assert row["low_s"] <= done["seconds"] <= row["high_s"], (row, done)
    assert "estimate" not in after  # measured now, no longer estimated


def test_watch_follows_a_slowed_import_to_its_end(fresh_lab, tmp_path):
    d = fresh_lab("secondary-imported-timed")
    imp = _import(d, "eu-primary", "--rate", "1")
    try:
        out = _checker(d, tmp_path, "--step=import-primary", "--watch=1")
    finally:
        imp.wait(60)
    rounds = [line for line in out.stdout.splitlines() if line.startswith("--watch round")]
    assert len(rounds) >= 3, out.stdout
    assert any("/9 tags" in r and "ETA" in r for r in rounds), rounds
    assert "--watch: the import finished on eu-primary" in out.stdout
    assert out.returncode == 0, out.stdout[-2000:]
    assert out.stdout.strip().splitlines()[-1].startswith("geopreflight: migrate-legacy step")


def test_watch_reports_a_frozen_import_as_a_stall(fresh_lab, tmp_path):
    d = fresh_lab("legacy-both")
    imp = _import(d, "us-secondary", "--freeze-after", "1")
    try:
        out = _checker(d, tmp_path, "--watch=0.5", timeout=60)
    finally:
        os.killpg(imp.pid, signal.SIGKILL)
        imp.wait(10)
    assert out.returncode == 1, out.stdout[-2000:]
    assert "--watch: stalled: nothing moved for 4 rounds" in out.stdout
    assert "pg_stat_activity" in out.stdout  # what to look at
    assert len([ln for ln in out.stdout.splitlines() if ln.startswith("--watch round")]) <= 6


def test_a_previous_runs_bundle_calibrates_a_deployment_without_imports(fresh_lab, lab,
                                                                       tmp_path):
    done = fresh_lab("secondary-imported-timed")
    _checker(done, tmp_path / "before", "--evidence", "--step=import-primary")
    bundle = tmp_path / "before" / "reports" / "latest" / "evidence.tar.gz"
    d = lab("legacy-both")
    _checker(d, tmp_path, "--step=import-secondary", f"--calibrate-from={bundle}")
    (row,) = _summary(tmp_path)["estimate"]
    assert row["site"] == "us-secondary"
    assert row["basis"].startswith("calibrated from a previous run: us-secondary's finished "
                                   "one-step import (9 tags in"), row
    assert f"evidence bundle {bundle}" in row["basis"]
    _checker(d, tmp_path, "--step=import-secondary")
    (plain,) = _summary(tmp_path)["estimate"]
    assert plain["basis"].startswith("published rates")
    assert plain["high_s"] / plain["low_s"] >= 25  # bytes unknown: 20 MB to 500 MB a tag
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(bundle.read_bytes()[:100])
    bad = _checker(d, tmp_path, "--step=import-secondary", f"--calibrate-from={broken}")
    assert bad.returncode == 4 and "broken.tar.gz" in bad.stderr


def test_watch_ends_at_an_interrupted_import_with_its_error(lab, tmp_path):
    d = lab("secondary-interrupted-import")
    out = _checker(d, tmp_path, "--watch=0.5", timeout=60)
    assert out.returncode == 1, out.stdout[-2000:]
    assert "--watch: interrupted: us-secondary: import stopped after 1 of 2 repositories" \
        in out.stdout
    assert len([ln for ln in out.stdout.splitlines() if ln.startswith("--watch round")]) == 2


def test_ctrl_c_ends_the_watch_with_the_last_verdict(fresh_lab, tmp_path):
    d = fresh_lab("legacy-both")
    imp = _import(d, "us-secondary", "--freeze-after", "1")
    try:
        watch = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--profile=migrate-legacy", f"--inventory={d.dir / 'inventory.yml'}",
             f"--report-dir={tmp_path / 'reports'}", "--watch=1"],
            cwd=ROOT, env={**os.environ, **d.env}, stdout=subprocess.PIPE, text=True,
            preexec_fn=as_foreground_job)
        lines = []
        for line in watch.stdout:
            lines.append(line)
            if line.startswith("--watch round 2"):
                watch.send_signal(signal.SIGINT)
        code = watch.wait(30)
    finally:
        os.killpg(imp.pid, signal.SIGKILL)
        imp.wait(10)
    out = "".join(lines)
    assert "--watch: stopped with Ctrl-C: the verdict is the last round's" in out
    summary = _summary(tmp_path)
    # the last round's verdict: a half-imported secondary that does not move is NOT READY
    assert (code, summary["exit_code"], summary["verdict"]) == (1, 1, "NOT_READY")
    assert out.strip().splitlines()[-1].endswith("NOT READY, 3 blocking checks failed")


def test_watch_refuses_what_it_cannot_follow(lab, tmp_path):
    d = lab("legacy-both")
    zero = _checker(d, tmp_path, "--watch=0")
    assert zero.returncode == 4 and "--watch=0: expected seconds between rounds" in zero.stderr
    other = _checker(d, tmp_path, "--step=prerequisites", "--watch=1")
    assert "--watch: prerequisites is not an import step; nothing to follow" in other.stdout
    assert "--watch round" not in other.stdout
    assert other.returncode == _summary(tmp_path)["exit_code"]  # the verdict's own code


def test_a_round_whose_statistics_cannot_be_read_is_no_progress_and_says_why():
    from geopreflight.facts import Fact, Facts
    from geopreflight.watch import Watch

    facts = Facts([Fact("db.import_statistics", "us", error="connection refused")])
    state = Watch(1.0)._state(None, facts, "us", set(), {}, 0.0)
    assert not state["done"] and state["error"] is None and state["failed_before"] is None
    assert "connection refused" in state["line"]


def test_the_estimate_block_escapes_deployment_values_and_speaks_the_run_language():
    """A site name or basis carrying a terminal escape (from a bundle, a hostile inventory)
    is shown escaped, never run; under --lang=ja the block's words are Japanese."""
    from geopreflight import i18n
    from geopreflight.reports.terminal import window_lines

    hostile = "eu\x1b[2J-primary"
    estimate = [{"site": hostile, "phase": "import", "read_only": True, "low_s": 60.0,
                 "high_s": 120.0, "basis": "published rates\x07"}]
    measured = [{"site": hostile, "phase": "import", "seconds": 30.0, "tags": 9,
                 "storage_driver": "filesystem", "source": "import_statistics"}]
    lines = [text for text, _colour in window_lines("import-primary", "one-step", estimate,
                                                   measured)]
    assert not any("\x1b" in t or "\x07" in t for t in lines)
    assert any("eu\\x1b[2J-primary" in t and "read-only" in t for t in lines)
    i18n.activate("ja")
    try:
        ja = [text for text, _c in window_lines("import-primary", "one-step", estimate, measured)]
    finally:
        i18n.activate("en")
    assert "import-primaryの見積もり" in ja[0]
    assert any("読み取り専用は1.0 minから2.0 min" in t for t in ja), ja
    assert ja[-1].startswith("実測したインポート: ")
