"""`geopreflight diff`: what a step changed, read from two runs' redacted reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geopreflight import diff
from standin import ROOT, run_pytest


def command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geopreflight.cli", "diff", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def folder(tmp: Path, name: str, step: str, verdict: str, checks: list[dict],
           facts: list[dict]) -> Path:
    path = tmp / name
    path.mkdir()
    steps = [{"id": s, "status": "pending"} for s in ("a", "b", "c")]
    rows = [{"severity": "high", "blocking": True, "message": "", **c} for c in checks]
    (path / "summary.json").write_text(json.dumps({  # what summary.schema.json requires
        "profile": "migrate-legacy", "requested_step": "auto", "step": step,
        "verdict": verdict, "exit_code": {"READY": 0, "COMPLETE": 0}.get(verdict, 1),
        "duration_s": 1.0, "tool_version": "0.1.0", "inventory_sha256": "0" * 64,
        "steps": steps, "checks": rows, "started_at": f"2026-12-01T10:0{len(name)}:00Z"}))
    (path / "facts.json").write_text(json.dumps({"facts": facts}))
    return path


def fact(key: str, site: str | None, value, **extra) -> dict:
    return {"key": key, "site": site, "value": value, "error": None, "source": "s",
            "started_at": extra.pop("started_at", "2026-12-01T10:00:00Z"),
            "duration_s": extra.pop("duration_s", 0.1), **extra}


def test_rows_facts_and_position_that_changed_and_nothing_else(tmp_path: Path) -> None:
    before = folder(tmp_path, "one", "a", "NOT_READY",
                    [{"id": "DB-008", "site": "s", "outcome": "fail"},
                     {"id": "VER-001", "site": "s", "outcome": "pass"}],
                    [fact("registry.api", "s", {"database_enabled": "false", "version": "4.1"}),
                     fact("geo.statuses", None, [{"geo_node_id": 2, "health": "Healthy",
                                                  "last_event_id": 7, "updated_at": "x"}]),
                     fact("db.server", "s", None, error="timeout")])
    after = folder(tmp_path, "two", "b", "READY",
                   [{"id": "DB-008", "site": "s", "outcome": "pass"},
                    {"id": "VER-001", "site": "s", "outcome": "pass"}],
                   [fact("registry.api", "s", {"database_enabled": "true", "version": "4.1"},
                         started_at="2026-12-01T11:00:00Z", duration_s=3.0),
                    fact("geo.statuses", None, [{"geo_node_id": 2, "health": "Unhealthy",
                                                 "last_event_id": 9, "updated_at": "y"}]),
                    fact("db.server", "s", {"tables": {"tags": {"rows": 3}}})])
    d = diff.compare(diff.load_run(str(before)), diff.load_run(str(after)))
    assert [c.line() for c in d.header] == [
        "profile: migrate-legacy -> migrate-legacy", "step: a (1/3) -> b (2/3)",
        "verdict: NOT_READY -> READY"]
    assert [c.line() for c in d.rows] == ["DB-008 s: fail -> pass"]
    assert [c.line() for c in d.facts] == [
        "geo.statuses 2.health: Healthy -> Unhealthy",
        "s registry metadata mode: legacy -> database",   # the facts that matter first
        "s registry DB rows in tags: (absent) -> 3",
        "s db.server: error: timeout -> (absent)"]


def test_formats_and_a_pipe_in_markdown(tmp_path: Path) -> None:
    before = folder(tmp_path, "one", "a", "READY", [],
                    [fact("x.y", "s", {"note": "a|b"})])
    after = folder(tmp_path, "two", "a", "READY", [], [fact("x.y", "s", {"note": "c"})])
    md = command(str(before), str(after), "--format=markdown")
    assert md.returncode == 0 and "| s x.y note | a\\|b | c |" in md.stdout, md.stdout
    js = json.loads(command(str(before), str(after), "--format", "json").stdout)
    assert js["facts"] == [{"key": "x.y", "site": "s", "path": "note", "what": "s x.y note",
                            "before": "a|b", "after": "c"}]
    text = command(str(before), str(after)).stdout
    assert "step: a (1/3) (unchanged)" in text and "s x.y note: a|b -> c" in text


@pytest.mark.parametrize("args,words", [
    (["/nonexistent/one", "/nonexistent/two"], "no such bundle or report folder"),
    (["one"], "the following arguments are required: AFTER"),
    (["one", "two", "--format=xml"], "invalid choice: 'xml'"),
])
def test_usage_errors_exit_4(args: list[str], words: str) -> None:
    r = command(*args)
    assert r.returncode == 4 and words in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.lab
def test_diff_across_the_secondary_import(fresh_lab, tmp_path: Path) -> None:
    d = fresh_lab("legacy-both")

    def judge(name: str) -> Path:
        r = run_pytest("--profile=migrate-legacy", f"--inventory={d.dir}/inventory.yml",
                       f"--report-dir={tmp_path / name}", "--evidence", env=d.environ())
        assert r.returncode == 0, r.stdout + r.stderr
        return (tmp_path / name / "latest").resolve()

    before = judge("before")
    for verb in ("import", "finish-import"):
        subprocess.run([sys.executable, "-m", "lab", verb, "--dir", str(d.dir), "--site",
                        "us-secondary"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    after = judge("after")

    r = command(str(before), str(after / "evidence.tar.gz"))  # a folder and a bundle
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "step: import-secondary (2/4) -> import-primary (3/4)" in lines
    head = next(i for i, line in enumerate(lines) if line.startswith("facts that changed ("))
    facts = lines[head + 1:]
    # the import's own record (its run, phases, counts and times) follows the lines above
    recorded = [line for line in facts if line.startswith("  us-secondary db.import_statistics ")]
    assert recorded and lines[head] == f"facts that changed ({15 + len(recorded)}):"
    assert [line for line in facts if line not in recorded] == [
        f"  us-secondary {line}" for line in (
        "registry metadata mode: legacy -> database",
        "registry /gitlab/v1/ API status: 404 -> 200",
        "storage lockfiles: filesystem-in-use -> database-in-use",
        "config.yml database enabled: off -> on",
        "registry read-only mode (config.yml): on -> off (not set)",
        "gitlab.rb registry['database']['enabled']: off -> on",
        "registry read-only mode (gitlab.rb): on -> off (not set)",
        "registry DB rows in repositories: 0 -> 2",
        "registry DB rows in tags: 0 -> 3",
        "db.content buckets: 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 -> "
        "0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0",
        "db.content repositories: 0 -> 2",
        "db.content sample: (empty) -> platform/base, group/project/app",
        "db.content sample_tags.group/project/app: (absent) -> 2",
        "db.content sample_tags.platform/base: (absent) -> 1",
        "db.content tags: 0 -> 3")]
    assert "checks whose outcome changed: none" in lines, "every judged row passes, both times"
    only_after = next(ln for ln in lines if ln.startswith("checks judged only after: "))
    assert "IMP-004 deployment (pass)" in only_after, "the secondaries-first rule, now held"
    assert "eu-primary" not in "\n".join(facts), "nothing changed on the primary"

    md = command(str(before), str(after), "--format=markdown").stdout
    assert "| step | import-secondary (2/4) | import-primary (3/4) |" in md
    assert "| us-secondary registry metadata mode | legacy | database |" in md
    js = json.loads(command(str(before), str(after), "--format=json").stdout)
    assert {f["path"] for f in js["facts"]} >= {"database_enabled", "lockfiles",
                                                "tables.tags.rows"}
    assert (js["before"]["step"], js["after"]["step"]) == ("import-secondary (2/4)",
                                                          "import-primary (3/4)")
