"""Reports of one run, written to `<report-dir>/<UTC time>-<profile>-<step>[-N]/` (or, with
`--report-name=NAME`, to `<report-dir>/NAME/`, replaced whole), with `<report-dir>/latest`
pointing at the newest folder."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..catalog import Result
from ..i18n import _
from ..inventory import Inventory
from ..profiles import Profile, Row


@dataclass
class RunReport:
    """Everything a report writer needs, already redacted."""

    profile: Profile
    requested_step: str
    step: str | None
    verdict: str
    exit_code: int
    started_at: datetime
    duration_s: float
    inventory: Inventory
    statuses: dict[str, str]
    rows: list[tuple[Row, Result]]
    facts: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    deselected: frozenset[str] = frozenset()  # rows -k/-m removed (test ids)
    next: list[Any] = field(default_factory=list)  # guidance.Action: READY and IN PROGRESS
    html_path: str = ""  # where report.html ends up, for the JUnit cases to point at

    def content(self) -> list[dict[str, Any]]:
        """Per site, the content counts that prove (or disprove) an import: the legacy
        storage's and the metadata DB's repositories and tags, as the facts recorded them
        (None where a side could not be read; `database` None also when it has no tables)."""
        def counts(key: str, site: str) -> dict[str, Any] | None:
            fact = next((f for f in self.facts if f["key"] == key and f["site"] == site), None)
            value = fact.get("value") if fact and not fact.get("error") else None
            if not value:
                return None
            return {k: value[k] for k in ("read", "repositories", "tags") if k in value}

        names = [s.name for s in self.inventory.sites]
        out = [{"site": n, "storage": counts("storage.content", n),
                "database": counts("db.content", n)} for n in names]
        return [c for c in out if c["storage"] or c["database"]]

    @property
    def step_label(self) -> str:
        if self.step:
            return f"{self.step} ({self.profile.index(self.step) + 1}/{len(self.profile.steps)})"
        return _("(all steps)") if self.verdict == "COMPLETE" else _("(position unknown)")


def fix_of(row: Row, result: Result) -> str:
    """The fix to show for a row: the one for the deployment's state, else the check's."""
    return result.fix or _(row.check.remediation)


def run_folder(report_dir: Path, started: datetime, profile: str, step: str) -> Path:
    """A new folder for this run; `-N` avoids a collision."""
    base = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{profile}-{step}"
    report_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = report_dir / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"too many report folders named {base}")


def point_latest(report_dir: Path, folder: Path) -> None:
    """Replace `latest` atomically with a relative symlink (a copy where links are impossible)."""
    tmp = report_dir / f".latest-{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(folder.name)
        os.replace(tmp, report_dir / "latest")
    except OSError:
        latest = report_dir / "latest"
        if latest.is_symlink() or latest.is_file():
            latest.unlink()
        elif latest.exists():
            shutil.rmtree(latest)
        shutil.copytree(folder, latest)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str) -> str | None:
    """Why `--report-name` cannot be used as a folder name (None: it can)."""
    if not _NAME.match(name) or name == "latest":
        return (f"--report-name={name!r}: expected one folder name of letters, digits, '.', "
                "'_' or '-' (at most 100, not starting with '.' or '-', not 'latest'), e.g. "
                "--report-name=acme-prod")
    return None


def replace_folder(report_dir: Path, name: str, built: Path) -> Path:
    """Put the finished folder `built` at `<report-dir>/<name>`: a reader sees the old run or
    the new one, never half of either (the old folder moves aside, then the new one in)."""
    target = report_dir / name
    old = report_dir / f".{name}.old-{os.getpid()}"
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        os.replace(target, old)
    os.replace(built, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def write_all(report: RunReport, report_dir: Path, name: str | None = None) -> Path:
    """Every report of the run in its folder; `name` gives the folder a fixed name for CI."""
    from . import facts_json, html, junit, summary

    if name:
        report_dir.mkdir(parents=True, exist_ok=True)
        folder = report_dir / f".{name}.new-{os.getpid()}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    else:
        folder = run_folder(report_dir, report.started_at, report.profile.name, report.step
                            or ("complete" if report.verdict == "COMPLETE" else "auto"))
    report.html_path = str((report_dir / name if name else folder) / "report.html")
    junit.write(report, folder / "junit.xml")
    summary.write(report, folder / "summary.json")
    facts_json.write(report, folder / "facts.json")
    html.write(report, folder / "report.html")
    if name:
        folder = replace_folder(report_dir, name, folder)
    point_latest(report_dir, folder)
    return folder
