"""One cause, one screen (issue 22): on the lab, one dead GitLab API stays under 80 terminal
lines (pytest's ERRORS section explains the cause once and lists the rows it stopped), a wrong
`host.root` is one cause with the fix for the root (not 13 unrelated fixes), and report.html
opens with the verdict, the first row to act on and the causes block within the first screen
of a 390 px wide phone (rendered in headless Chromium)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_html import CHROMIUM

from standin import run_pytest

pytestmark = pytest.mark.lab
SCREEN = (390, 844)


def broken(lab: Any, tmp: Path, change) -> tuple[Any, Path]:
    doc = yaml.safe_load(lab.inventory.read_text())
    change(doc)
    inv = tmp / "inventory.yml"
    inv.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_pytest("--profile=migrate-legacy", f"--inventory={inv}",
                      f"--report-dir={tmp / 'r'}", env=lab.environ())
    return proc, tmp / "r" / "latest"


def test_one_dead_gitlab_api_stays_under_80_lines(lab, tmp_path):
    def dead(doc):
        doc["sites"][0]["gitlab"]["url"] = "http://127.0.0.1:1"
    proc, _ = broken(lab("legacy-both"), tmp_path, dead)
    assert proc.returncode == 6
    lines = proc.stdout.splitlines()
    assert len(lines) < 80, "\n".join(lines)
    section = proc.stdout.split("= ERRORS =")[1].split("geopreflight: ")[0]
    # the cause once, with the rows it stopped; no row's section repeats it
    assert section.count("GitLab API unreachable at http://127.0.0.1:1") == 1, section
    assert re.search(r"the same cause stopped \d+ other rows:", section)


def test_a_wrong_host_root_is_one_cause_with_the_root_s_fix(lab, tmp_path):
    def rootless(doc):
        doc["sites"][1]["host"]["root"] = str(tmp_path / "no-such-root")
    proc, folder = broken(lab("legacy-both"), tmp_path, rootless)
    causes = [x for x in proc.stdout.splitlines() if x.startswith("[")]
    assert len(causes) == 1 and "us-secondary: host files" in causes[0], causes
    assert "wrong host target or root" in causes[0]
    table = [x for x in proc.stdout.splitlines() if x.startswith("  ERROR")]
    assert table and all("see [1] us-secondary: host files" in x for x in table), table
    assert "ALTER DATABASE" not in proc.stdout


def test_report_html_first_screen_at_390px(lab, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is missing (apt-get install chromium)")

    def dead(doc):
        doc["sites"][0]["gitlab"]["url"] = "http://127.0.0.1:1"
    _, folder = broken(lab("legacy-both"), tmp_path, dead)
    page = (folder / "report.html").read_text()
    # the cause is told once, in the causes block; its rows point there
    assert page.count("GitLab API unreachable at http://127.0.0.1:1") == 1
    assert 'Not evaluated: see <a href="#cause-1">cause 1</a>' in page
    assert "@media" not in page  # so a 390 px wide root lays out as a 390 px viewport does
    probe = ("<script>const b=s=>document.querySelector(s).getBoundingClientRect();"
             "document.body.dataset.pos=JSON.stringify({width:document.body.clientWidth,"
             "verdict:b('#verdict').bottom,first:b('#first').bottom,causes:b('#causes').top})"
             "</script>")
    (tmp_path / "probe.html").write_text(
        page.replace('<html lang="en">', f'<html lang="en" style="width:{SCREEN[0]}px">')
        .replace("</body>", probe + "</body>"))
    import subprocess

    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", f"--user-data-dir={tmp_path / 'chr'}",
                        f"--window-size={SCREEN[0]},{SCREEN[1]}", "--dump-dom",
                        (tmp_path / "probe.html").as_uri()],
                       capture_output=True, text=True, timeout=120, env={**os.environ})
    pos = json.loads(re.search(r'data-pos="([^"]+)"', r.stdout).group(1).replace("&quot;", '"'))
    assert pos["width"] == SCREEN[0], pos
    assert pos["verdict"] < pos["first"] <= SCREEN[1] and pos["causes"] < SCREEN[1], pos
