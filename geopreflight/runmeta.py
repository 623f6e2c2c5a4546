"""Who ran a check, where, when and with which checks: the run metadata of an evidence bundle
(`run.json`), so an auditor can attribute a verdict to an operator, a host and a change window.

>>> operator({"GEOPREFLIGHT_OPERATOR": "jane", "GITLAB_USER_LOGIN": "ci-bot"})
'jane'
>>> operator({"GITLAB_USER_LOGIN": "ci-bot"})
'ci-bot'
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from . import __version__

GIT_TIMEOUT_S = 5.0
_REVISION = re.compile(r"^[0-9a-f]{40,64}$")


def operator(environ: Mapping[str, str] = os.environ) -> str:
    """The person accountable for the run: GEOPREFLIGHT_OPERATOR, else the CI job's user
    (GitLab CI's GITLAB_USER_LOGIN), else the OS user."""
    for name in ("GEOPREFLIGHT_OPERATOR", "GITLAB_USER_LOGIN"):
        value = environ.get(name, "").strip()
        if value:
            return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (some containers)
        return f"uid {os.getuid()}"


def _git(directory: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_revision(directory: Path) -> tuple[str, bool] | None:
    """The commit the checks come from and whether they differ from it, when the checks are
    tracked in a git checkout; None otherwise (an installed package, no git, a hung or failing
    git): metadata, never a reason to fail the run."""
    if not (_git(directory, "ls-files", "--", ".") or "").strip():
        return None  # not a checkout, or a package installed inside someone else's repository
    revision = (_git(directory, "rev-parse", "HEAD") or "").strip()
    changes = _git(directory, "status", "--porcelain", "--untracked-files=no", "--", ".")
    if not _REVISION.match(revision) or changes is None:
        return None
    return revision, bool(changes.strip())


def _utc(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def collect(started: datetime, ended: datetime, checks_dir: Path,
            environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The run metadata recorded in the bundle's `run.json`."""
    meta: dict[str, Any] = {
        "tool_version": __version__,
        "started_at": _utc(started),
        "ended_at": _utc(ended),
        "host": socket.gethostname(),
        "operator": operator(environ),
    }
    revision = git_revision(checks_dir)
    if revision:
        meta["checks_revision"], meta["checks_modified"] = revision
    if environ.get("CI_JOB_URL"):
        meta["ci_job_url"] = environ["CI_JOB_URL"]
    return meta
