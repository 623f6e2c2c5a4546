"""The `geopreflight` command.

    geopreflight --profile=NAME [pytest options...]     pytest with the plugin, from any directory
    geopreflight verify BUNDLE [--allowed-signers FILE] is this bundle intact, and who signed it?
    geopreflight diff BEFORE AFTER [--format text|markdown|json]   what a step changed

`verify` exits 0 when the manifest, the signature and the signer all check out; 1 when the
bundle does not verify (a member altered, a manifest recomputed, another signer, unsigned);
6 when it is intact and signed but who signed was not checked (no --allowed-signers); 4 on a
usage error. Every other command line is pytest's, with pytest's exit codes.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import NoReturn

import pytest

from . import __version__, diff, i18n, reportjson, signing
from .errors import USAGE_EXIT, UsageError
from .evidence import BUNDLE_MAX, Bundle
from .i18n import _
from .textsafe import for_terminal, lines_for_terminal
from .yamlfile import read_input

PLUGIN = "geopreflight.plugin"
VERIFIED, NOT_VERIFIED, SIGNER_NOT_CHECKED = 0, 1, 6
USAGE = ("usage: geopreflight --profile=NAME [options]   (--profile=help lists the profiles, "
         "--help the options)\n"
         "       geopreflight verify BUNDLE [--allowed-signers FILE]\n"
         "       geopreflight diff BEFORE AFTER [--format text|markdown|json]\n"
         "       geopreflight --version")


def _help() -> str:
    """`geopreflight --help`'s own part, in the run's language (the usage lines are commands)."""
    return "\n\n".join((
        _("geopreflight {version}: is this GitLab Geo deployment ready for the next step of the\n"
          "container registry metadata database procedure, and if not, why and how to fix "
          "it.").format(version=__version__),
        USAGE,
        _("commands:\n"
          "  --profile=NAME     judge the deployment for a profile's step (pytest with the "
          "plugin);\n"
          "                     --profile=help lists the profiles, --list-steps a profile's "
          "steps\n"
          "  verify BUNDLE      is an evidence bundle intact, and who signed it (verify --help)\n"
          "  diff BEFORE AFTER  what a step changed between two runs (diff --help)"),
        _("exit codes: 0 READY or COMPLETE, 1 NOT READY or IN PROGRESS, 6 CANNOT DETERMINE,\n"
          "4 usage error, 5 nothing selected"),
        _("pytest's own options follow, then geopreflight's group (--profile, --step, --site, "
          "...):") + "\n"))


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is geopreflight's usage error (exit 4), not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the installed `geopreflight` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"verify": _verify, "diff": _diff}
    try:
        _language(args, strict=bool(args) and args[0] in commands)
        if args and args[0] in commands:
            return commands[args[0]](args[1:])
        return _pytest(args)
    except UsageError as exc:
        print(f"ERROR: {lines_for_terminal(str(exc))}", file=sys.stderr)
        return USAGE_EXIT
    except SystemExit as exc:  # argparse's --help
        return exc.code if isinstance(exc.code, int) else 0
    finally:
        i18n.activate(i18n.DEFAULT)  # in-process callers (tests) go on in English


def _language(args: list[str], strict: bool) -> None:
    """The run's language for the command's own sentences (`--lang=` or $GEOPREFLIGHT_LANG):
    verify and diff refuse another value (exit 4); a profile run leaves that to the plugin,
    which names the choices the same way."""
    given = next((a.split("=", 1)[1] for a in args if a.startswith("--lang=")), None)
    code = given or os.environ.get(i18n.ENV) or i18n.DEFAULT
    try:
        i18n.activate(code)
    except (ValueError, FileNotFoundError) as exc:
        if strict:
            source = f"--lang={code}" if given else f"{i18n.ENV}={code}"
            raise UsageError(f"{source}: {exc}") from None


def _pytest(args: list[str]) -> int:
    """pytest with the plugin loaded: through the installed pytest11 entry point when there is
    one (loading it twice is an error), else registered directly; the exit code is
    pytest's, so the verdict's."""

    if any(a in ("--version", "-V") for a in args):
        print(f"geopreflight {__version__} (pytest {pytest.__version__})")
        return 0
    asks_help = any(a in ("-h", "--help") for a in args)
    if asks_help:
        print(_help(), flush=True)
    _suggest(args)
    if not asks_help and not any(a == "--profile" or a.startswith("--profile=") for a in args):
        raise UsageError(_("no --profile given") + f"\n{USAGE}")
    from . import plugin, suite

    if not any(a == "--confcutdir" or a.startswith("--confcutdir=") for a in args):
        # Only the checks are collected (the plugin replaces the paths anyway), so no other
        # conftest.py is loaded: not a checkout's root one (pytest refuses its pytest_plugins
        # when run from elsewhere), nor its tests/ (which import the lab). A site's own hooks
        # join with -p MODULE.
        args = [f"--confcutdir={suite.CHECKS_DIR}", str(suite.CHECKS_DIR), *args]
    # checks use no `assert` (nothing to rewrite; rewriting an already imported package only
    # warns), and the command writes no .pytest_cache beside the checks or the current folder
    args = ["--assert=plain", "-p", "no:cacheprovider", *args]
    return int(pytest.main(args, plugins=[] if _autoloaded() else [plugin]))


OPTIONS = ("--profile", "--inventory", "--step", "--site", "--report-dir", "--report-name",
           "--list-steps", "--evidence", "--from-evidence", "--waivers", "--canary",
           "--import-method", "--wait", "--sign-with", "--allowed-signers", "--attestations")


def _suggest(args: list[str]) -> None:
    """A misspelt geopreflight option is a usage error naming the nearest one (pytest would
    say only "unrecognized arguments", and `--profle=x` would read as no --profile at all)."""
    for arg in args:
        name = arg.split("=", 1)[0]
        if not name.startswith("--") or name in OPTIONS:
            continue
        near = difflib.get_close_matches(name, OPTIONS, n=1, cutoff=0.8)
        if near:
            raise UsageError(_("unknown option {name}: did you mean {near}?").format(
                name=name, near=near[0]) + f"\n{USAGE}")


def _autoloaded() -> bool:
    import os

    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.value.split(":")[0].strip() == PLUGIN
               for ep in entry_points(group="pytest11"))


def _verify(argv: list[str]) -> int:
    p = _Parser(prog="geopreflight verify",
                description="Check an evidence bundle: its manifest, its signature and who "
                            "signed it; then print what it records.")
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--allowed-signers", metavar="FILE",
                   help="ssh-keygen's allowed_signers file: whose signatures count")
    opt = p.parse_args(argv)
    if not Path(opt.bundle).exists():
        raise UsageError(_("no such evidence bundle"), file=opt.bundle)
    data = read_input(opt.bundle, "evidence bundle", BUNDLE_MAX)  # a FIFO: exit 4, no hang
    if opt.allowed_signers:
        signing.check_allowed_signers(opt.allowed_signers)
    try:
        bundle = Bundle(opt.bundle, data)
        signer = signing.verify(bundle.files, opt.allowed_signers)
    except (UsageError, signing.NotVerified) as exc:
        why = str(exc).removeprefix(opt.bundle + ": ")
        print(for_terminal(_("NOT VERIFIED: {bundle}: {why}").format(bundle=opt.bundle, why=why)),
              file=sys.stderr)
        return NOT_VERIFIED
    members = len([n for n in bundle.files if n not in (signing.MANIFEST, signing.SIGNATURE)])
    lines = [f"bundle:     {opt.bundle}",
             f"manifest:   {members} members, each matching {signing.MANIFEST}",
             f"signature:  good, {signer.key} (namespace {signing.NAMESPACE})",
             "signer:     " + (f"{signer.principal} (in {opt.allowed_signers})" if signer.principal
                               else _("NOT CHECKED: give --allowed-signers=FILE to check who "
                                      "signed")),
             *_recorded(bundle)]
    print("\n".join(map(for_terminal, lines)))
    if signer.principal is None:
        print(_("geopreflight verify: intact and signed, but the signer was not checked"))
        return SIGNER_NOT_CHECKED
    print(for_terminal(_("geopreflight verify: VERIFIED, signed by {signer}").format(
        signer=signer.principal)))
    return VERIFIED


def _recorded(bundle: Bundle) -> list[str]:
    """What the bundle records: profile, step, verdict, time, operator, inventory hash."""
    summary = bundle.summary()
    run = reportjson.load(bundle.files.get("run.json", b"{}"), f"{bundle.path}:run.json")
    if not isinstance(run, dict):
        raise UsageError(_("run.json: expected an object"), file=bundle.path)
    position = diff.Run(bundle.path, summary, []).position
    who = run.get("operator", "(not recorded)")
    where = f" on {run['host']}" if run.get("host") else ""
    ci = f", CI job {run['ci_job_url']}" if run.get("ci_job_url") else ""
    revision = run.get("checks_revision")
    checks = (f"{run.get('tool_version', '?')}, checks at {revision}"
              + (" (with local changes)" if run.get("checks_modified") else "")
              if revision else str(run.get("tool_version") or summary.get("tool_version", "?")))
    return [f"profile:    {summary.get('profile')}",
            f"step:       {position} (asked: {summary.get('requested_step')})",
            f"verdict:    {summary.get('verdict')} (exit {summary.get('exit_code')})",
            f"time:       {run.get('started_at') or summary.get('started_at')}"
            + (f" to {run['ended_at']}" if run.get("ended_at") else ""),
            f"operator:   {who}{where}{ci}",
            f"tool:       geopreflight {checks}",
            f"inventory:  sha256 {summary.get('inventory_sha256')}"]


def _diff(argv: list[str]) -> int:
    p = _Parser(prog="geopreflight diff",
                description="What changed between two runs (evidence bundles or report "
                            "folders): step position, check outcomes, facts.")
    p.add_argument("before", metavar="BEFORE")
    p.add_argument("after", metavar="AFTER")
    p.add_argument("--format", choices=diff.FORMATS, default="text")
    opt = p.parse_args(argv)
    print(diff.render(opt.before, opt.after, opt.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
