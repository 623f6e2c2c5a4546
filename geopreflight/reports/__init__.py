"""Reports of one run, written to `<report-dir>/<UTC time>-<profile>-<step>[-N]/` (or, with
`--report-name=NAME`, to `<report-dir>/NAME/`, replaced whole), with `<report-dir>/latest`
pointing at the newest folder."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from ..i18n import _
from ..verdict import Verdict
from .run import RunReport


class ReportsNotWritten(Exception):  # noqa: N818 - an outcome, like a full disk
    """The reports could not be written (a full disk, a read-only folder): the run has no
    verdict to give (exit 3), and nothing half-written is left behind."""


def _building(report_dir: Path, name: str) -> Path:
    """A new hidden folder for this run's reports, unique to the run (not only the process):
    two runs never write into one folder."""
    report_dir.mkdir(parents=True, exist_ok=True)
    folder = report_dir / f".{name}.new-{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir()
    return folder


def _rename_if_free(built: Path, folder: Path) -> bool:
    """Rename `built` to `folder`; False when another run's non-empty folder holds the name."""
    try:
        os.rename(built, folder)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        return False


def _place(report_dir: Path, built: Path, base: str) -> Path:
    """Rename the finished folder to `base` (or `base-N` where a folder of that name exists):
    a timestamped folder appears whole or not at all."""
    for n in range(1, 1000):
        folder = report_dir / (base if n == 1 else f"{base}-{n}")
        if not (folder.exists() or folder.is_symlink()) and _rename_if_free(built, folder):
            return folder
    raise OSError(errno.EEXIST, _("too many report folders named {name}").format(name=base))


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


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(name: str) -> str | None:
    """Why `--report-name` cannot be used as a folder name (None: it can)."""
    if not _NAME.fullmatch(name) or name == "latest":  # `$` would let "ci\n" through
        return _("--report-name={name}: expected one folder name of letters, digits, '.', "
                 "'_' or '-' (at most 100, not starting with '.' or '-', not 'latest'), e.g. "
                 "--report-name=acme-prod").format(name=repr(name))
    return None


def replace_folder(report_dir: Path, name: str, built: Path) -> Path:
    """Put the finished folder `built` at `<report-dir>/<name>`: a reader sees one run's folder
    whole, never half of one or a mix of two. The old folder moves aside, then the new one in;
    when another run's folder took the name in between, that one moves aside too."""
    target = report_dir / name
    for _attempt in range(100):
        old = report_dir / f".{name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                os.rename(target, old)
        except FileNotFoundError:  # another run moved it first
            pass
        try:
            if _rename_if_free(built, target):
                return target
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise OSError(errno.EBUSY, _("{folder} kept being replaced by other runs").format(
        folder=target))


def write_all(report: RunReport, report_dir: Path, name: str | None = None,
              extra: Callable[[Path], None] | None = None) -> Path:
    """Every report of the run in its folder; `name` gives the folder a fixed name for CI.
    `extra` adds more to the folder (the evidence bundle) before it is put in place, so
    everything in a folder is one run's. Raises ReportsNotWritten (nothing left behind) when
    the disk is full or the folder cannot be written."""
    from . import facts_json, html, junit, summary

    step = report.step or ("complete" if report.verdict == Verdict.COMPLETE else "auto")
    base = name or f"{report.started_at.strftime('%Y%m%dT%H%M%SZ')}-{report.profile.name}-{step}"
    # the page's final address, for the links in junit.xml (a timestamped folder that
    # collides gets `-N` when it is put in place; its links name the first choice)
    report.html_path = str(report_dir / base / "report.html")
    built: Path | None = None
    try:
        built = _building(report_dir, name or "run")
        junit.write(report, built / "junit.xml")
        summary.write(report, built / "summary.json")
        facts_json.write(report, built / "facts.json")
        html.write(report, built / "report.html")
        if extra is not None:
            extra(built)
        built = folder = replace_folder(report_dir, name, built) if name else \
            _place(report_dir, built, base)
        point_latest(report_dir, folder)
        built = None
    except OSError as exc:
        why = exc.strerror or str(exc)
        text = _("cannot write the reports in {folder}: {why} (the disk is full); no report "
                 "of this run was kept") if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
            _("cannot write the reports in {folder}: {why}; no report of this run was kept")
        raise ReportsNotWritten(text.format(folder=report_dir, why=why)) from None
    finally:
        if built is not None:
            shutil.rmtree(built, ignore_errors=True)
    return folder
