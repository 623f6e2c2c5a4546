"""Command-line options: declared here, and checked before anything is loaded or probed.

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


def declare(parser: Any) -> None:
    """geopreflight's options (pytest_addoption)."""
    group = parser.getgroup("geopreflight", "geopreflight: readiness of a GitLab Geo deployment")
    group.addoption("--profile", help="scenario profile to judge (--profile=help lists them)")
    group.addoption("--inventory", default="inventory.yml",
                    help="the deployment's inventory (default: inventory.yml)")
    group.addoption("--step", default="auto",
                    help="step to judge, or auto: the next step after the last complete one")
    group.addoption("--site", help="judge only this site's per-site checks (and the "
                                   "deployment-wide ones)")
    group.addoption("--report-dir", default="reports", help="where report folders go")
    group.addoption("--report-name", metavar="NAME",
                    help="write the reports to <report-dir>/NAME/ (no timestamp; the previous "
                         "run's folder of that name is replaced whole), so CI names one path")
    group.addoption("--list-steps", action="store_true",
                    help="print the profile's steps and the checks that gate them, probe nothing")
    group.addoption("--evidence", action="store_true",
                    help="also write evidence.tar.gz, the audit bundle of this run")
    group.addoption("--from-evidence", metavar="BUNDLE",
                    help="judge a bundle's recorded facts again, without the deployment")
    group.addoption("--waivers", metavar="FILE", help="apply governed exceptions from FILE")
    group.addoption("--canary", action="store_true",
                    help="the one write: push a tiny image to the primary registry and wait "
                         "for it on the secondaries")
    group.addoption("--import-method", choices=("one-step", "three-step"),
                    help="how the registry metadata is imported (default: the inventory's "
                         "import_method, else one-step); it decides which checks gate each "
                         "phase of an import step")
    group.addoption("--wait", metavar="SECONDS", type=float, default=0.0,
                    help="re-probe until the replication (REP) checks hold, at most SECONDS; "
                         "also how long --canary waits (default 60 s)")
    group.addoption("--sign-with", metavar="KEY", help="sign the evidence bundle with an SSH "
                    "key (a private key, or a public key whose private half is in ssh-agent)")
    group.addoption("--allowed-signers", metavar="FILE", help="with --from-evidence: refuse a "
                    "bundle not signed by a key in FILE (ssh-keygen's allowed_signers format)")
    group.addoption("--calibrate-from", metavar="BUNDLE", help="a previous run's evidence "
                    "bundle whose finished imports calibrate the import estimate (IMP-008) "
                    "where this deployment has none of its own")
    group.addoption("--attestations", metavar="FILE", help="signed-off manual items (change "
                    "ticket, registry DB backup, offline GC disabled) for the ATT checks")


# pytest modes that would probe the deployment and then run no check: no verdict, exit 0
NO_CHECKS = {"setuponly": "--setup-only", "setupplan": "--setup-plan",
             "showfixtures": "--fixtures", "show_fixtures_per_test": "--fixtures-per-test",
             "markers": "--markers"}


def refused(config: Any) -> str | None:
    """Options that cannot work with a profile, and what to use instead."""
    from .i18n import _  # here, not at the top: an inactive plugin imports only its hooks

    for dest, flag in NO_CHECKS.items():
        if getattr(config.option, dest, False):
            return _("{flag} runs no check, so it cannot give a verdict (and would probe the "
                     "deployment for nothing); to see what a run would judge without probing, "
                     "use --collect-only or --list-steps").format(flag=flag)
    if config.getoption("xmlpath", None):
        return _("--junitxml: geopreflight writes its own junit.xml (one suite per site, one "
                 "case per check and site, with observed, expected and the fix); name it with "
                 "--report-name=NAME and read <report-dir>/NAME/junit.xml")
    name = config.getoption("report_name")
    if name is None:
        return None
    from .reports import check_name

    return check_name(name)
