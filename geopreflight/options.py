"""Command-line options checked before anything is loaded or probed.

An option given but empty (`--profile=` from an unset CI variable) must never leave the gate
open: it is a usage error, like a `--wait` that never ends or a `--report-dir` that can never
be written.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .errors import UsageError

MAX_WAIT_S = 24 * 3600.0
NAMED = ("profile", "step", "site", "inventory", "waivers", "from_evidence", "report_dir",
         "calibrate_from")


def validate(config: Any) -> None:
    """Raise UsageError for an empty option, a `--wait` that is not a finite number of
    seconds, or a `--report-dir` that is (or lies under) something other than a folder."""
    opt = config.getoption
    for name in NAMED:
        value = opt(name)
        if value is not None and not str(value).strip():
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} is empty (an unset variable?): expected a value"
                             + ("; --profile=help lists the profiles" if name == "profile"
                                else ""))
    wait = opt("wait")
    if not math.isfinite(wait) or not 0 <= wait <= MAX_WAIT_S:
        raise UsageError(f"--wait={wait:g}: expected a number of seconds from 0 to "
                         f"{MAX_WAIT_S:g}")
    report_dir(Path(opt("report_dir")))


def report_dir(path: Path) -> None:
    """The report folder, or the nearest part of it that exists, must be a writable folder."""
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is" if probe == path else f"lies under {probe}, which is"
        raise UsageError(f"--report-dir={path}: {where} not a folder")
    if probe.is_dir() and not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--report-dir={path}: {probe} is not writable")
    if os.path.islink(probe) and not probe.exists():
        raise UsageError(f"--report-dir={path}: {probe} is a broken symbolic link")
