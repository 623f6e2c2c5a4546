"""The import: the storage lockfiles before and after it (fact sheet, B7, B10, C4)."""

from __future__ import annotations

from geopreflight.catalog import CannotEvaluate, Fail, check
from geopreflight.context import CheckContext

from . import METADATA_DB_PAGE
from . import _views as sv

TROUBLESHOOTING = ("https://docs.gitlab.com/administration/packages/"
                   "container_registry_metadata_database_troubleshooting/")


def _expect_only(ctx: CheckContext, want: str) -> str:
    """Pass when `want` is the only lockfile; fail naming what is there otherwise."""
    db, fs = _locks(ctx)
    if _state(db, fs) != want:
        raise Fail(f"{ctx.site.name}: {_state(db, fs)} in the storage's lockfiles directory",
                   observed=_state(db, fs), expected=f"{want} only")
    return f"{want} only"


def _locks(ctx: CheckContext) -> tuple[bool, bool]:
    why = sv.disabled_reason(ctx)
    if why:
        raise Fail(f"{ctx.site.name} has no registry ({why}), so nothing was imported",
                   observed=why, expected="an enabled registry with its storage lockfiles")
    locks = sv.lockfiles(ctx)
    if not locks.readable:
        raise CannotEvaluate(f"{ctx.site.name}: the storage lockfiles cannot be read: "
                             f"{locks.why}")
    return bool(locks.database_in_use), bool(locks.filesystem_in_use)


def _state(db: bool, fs: bool) -> str:
    names = [n for n, on in (("database-in-use", db), ("filesystem-in-use", fs)) if on]
    return " and ".join(names) or "no lockfile"


@check("IMP-001", title="The lockfiles say the site has not been imported", severity="critical",
       rationale="A legacy registry with data writes filesystem-in-use at start-up; a "
                 "finished import replaces it with database-in-use, and a second import then "
                 "fails ('database-in-use lockfile exists'); both lockfiles stop the registry "
                 "(fact sheet, B7, B9, B10). Read under the filesystem storage root.",
       remediation="If database-in-use is there the site is imported: go on with the next "
                   "step. If no lockfile exists, restart the registry in legacy mode "
                   "(enabled false) so it writes filesystem-in-use; never leave both.",
       doc=TROUBLESHOOTING)
def test_imp_001_not_imported_yet(ctx: CheckContext) -> str:
    return _expect_only(ctx, "filesystem-in-use")


@check("IMP-002", title="The lockfiles say the import finished", severity="critical",
       rationale="When the tag import succeeds, the importer removes filesystem-in-use and "
                 "creates database-in-use; on failure or a dry run it restores "
                 "filesystem-in-use (fact sheet, B7).",
       remediation="Run (or re-run) sudo -u registry gitlab-ctl registry-database import on "
                   "the site and check that it ends with 'registry import complete'.",
       doc=METADATA_DB_PAGE)
def test_imp_002_import_finished(ctx: CheckContext) -> str:
    return _expect_only(ctx, "database-in-use")
