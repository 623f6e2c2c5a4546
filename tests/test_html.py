"""report.html as people see it: rendered in headless Chromium (Debian's `chromium`, installed
by scripts/setup) from a READY, a NOT READY and an IN PROGRESS run of the lab, and checked in
the rendered DOM: the verdict, the failing rows and the step timeline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from geopreflight.reports.html import COLOURS
from standin import run_pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


@pytest.mark.parametrize("word", sorted(COLOURS))
def test_every_badge_colour_meets_wcag_aa_with_white_text(word: str) -> None:
    ratio = (1.0 + 0.05) / (luminance(COLOURS[word]) + 0.05)
    assert ratio >= 4.5, f"{word} {COLOURS[word]}: {ratio:.2f}:1"


def render(page: Path, tmp: Path) -> str:
    """The DOM of the page after Chromium loaded it (`--dump-dom`)."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (scripts/setup installs it)")
        pytest.skip("chromium is missing (apt-get install chromium)")
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={tmp / 'chr'}",
                        "--dump-dom", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "<html" in r.stdout, r.stderr[-2000:]
    return r.stdout


def run(lab: Any, tmp: Path) -> tuple[dict[str, Any], str]:
    r = run_pytest("--profile=migrate-legacy", f"--inventory={lab.inventory}",
                   f"--report-dir={tmp / 'reports'}", env=lab.environ())
    folder = tmp / "reports" / "latest"
    data = json.loads((folder / "summary.json").read_text())
    data["verdict_line"] = r.stdout.strip().splitlines()[-1]
    return data, render(folder / "report.html", tmp)


def element(dom: str, id_: str) -> str:
    """The opening tag and text up to the element's end (good enough for these pages)."""
    m = re.search(rf'<(\w+)[^>]*\bid="{re.escape(id_)}"[^>]*>.*?</\1>', dom, re.S)
    assert m, f"no element #{id_}"
    return m.group(0)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def check_page(data: dict[str, Any], dom: str) -> None:
    assert '<html lang="en">' in dom and 'name="viewport"' in dom
    verdict = element(dom, "verdict")
    words = data["verdict"].replace("_", " ")
    assert f'data-verdict="{data["verdict"]}"' in verdict
    assert words in text(verdict)
    why = data["verdict_line"].split(": ", 2)[-1]  # the terminal's words, after the step
    assert text(verdict).startswith(words), text(verdict)
    assert why.removeprefix(words).lstrip(", ") in text(verdict)
    steps = element(dom, "steps")
    for step in data["steps"]:
        assert f'data-status="{step["status"]}"' in steps and step["id"] in steps
    if data["step"]:
        judged = re.search(r'<li class="judged" aria-current="step"[^>]*>(.*?)</li>', steps, re.S)
        assert judged and data["step"] in judged.group(1)
    for c in data["checks"]:
        anchor = f'{c["id"]}-{c["site"] or "deployment"}'
        row = element(dom, anchor)
        if c["outcome"] in ("fail", "error"):
            assert c["outcome"].upper() in text(row) and "Fix:" in text(row), row
            assert f'GitLab documentation for {c["id"]}' in row
            before = dom[:dom.index(f'id="{anchor}"')]
            assert "<details" not in before[before.rfind("<section"):], "failures not folded"
        if "observed" in c:
            assert "observed" in row


def test_ready_run_renders_verdict_and_timeline(lab: Any, tmp_path: Path) -> None:
    data, dom = run(lab("legacy-both"), tmp_path)
    assert (data["verdict"], data["step"]) == ("READY", "import-secondary")
    check_page(data, dom)
    assert "<details" in dom and "passed" in dom  # passes folded away


def test_not_ready_run_renders_its_failing_rows_first(lab: Any, tmp_path: Path) -> None:
    data, dom = run(lab("not-read-only"), tmp_path)
    assert data["verdict"] == "NOT_READY"
    check_page(data, dom)
    failing = [c for c in data["checks"] if c["outcome"] == "fail"]
    assert failing and all(f'{c["id"]}-{c["site"] or "deployment"}' in dom for c in failing)


def test_in_progress_run_renders_the_step_in_progress(lab: Any, tmp_path: Path) -> None:
    mine = lab("legacy-both", fresh=True)
    mine.import_("us-secondary")
    data, dom = run(mine, tmp_path)
    assert data["verdict"] == "IN_PROGRESS"
    check_page(data, dom)
    assert 'data-status="in-progress"' in element(dom, "steps")
