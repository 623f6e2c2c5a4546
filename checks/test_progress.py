"""Where an import stands and the order between sites: evidence that a step has begun
(`started`), what must hold while it is under way (`during`), and the deployment-wide
ordering rules that `--site` never drops."""

from __future__ import annotations

from dataclasses import replace

from geopreflight.catalog import CATALOG, CannotEvaluate, Fail, check, evaluate
from geopreflight.context import CheckContext

from . import GEO_PAGE, METADATA_DB_PAGE
from . import _views as sv

TROUBLESHOOTING = ("https://docs.gitlab.com/administration/packages/"
                   "container_registry_metadata_database_troubleshooting/")
THREE_STEP = ("https://docs.gitlab.com/administration/packages/"
              "container_registry_metadata_database_three_step_import/")


def _rows(ctx: CheckContext, table: str) -> int:
    return int(sv.table(ctx, table).rows)


def _locks(ctx: CheckContext) -> tuple[bool, bool]:
    """(database-in-use, filesystem-in-use); an error when the lockfiles cannot be read."""
    locks = sv.lockfiles(ctx)
    if not locks.readable:
        raise CannotEvaluate(f"{ctx.site.name}: the storage lockfiles cannot be read: "
                             f"{locks.why}")
    return bool(locks.database_in_use), bool(locks.filesystem_in_use)


def _holds(ctx: CheckContext, check_id: str, site) -> tuple[bool, str]:
    """Whether another check passes for `site`, and its message (errors propagate)."""
    result = evaluate(CATALOG[check_id], replace(ctx, site=site))
    if result.outcome == "error":
        raise CannotEvaluate(f"{check_id} for {site.name}: {result.message}")
    return result.outcome in ("pass", "waived"), result.message


@check("IMP-003", title="The import has begun on this site", severity="info",
       rationale="An import writes rows to the registry database before it swaps the "
                 "lockfiles: step one (pre-import) fills repositories and manifests, the tag "
                 "import fills tags, and a finished tag import replaces filesystem-in-use with "
                 "database-in-use (https://gitlab.com/gitlab-org/container-registry/-/blob/"
                 "master/registry/datastore/importer.go). Any of these means the step is under "
                 "way, so the run says IN PROGRESS instead of judging the step from scratch.",
       remediation="Nothing to do: this row only tells geopreflight that the import began.",
       doc=METADATA_DB_PAGE)
def test_imp_003_import_has_begun(ctx: CheckContext) -> str:
    seen = []
    repositories, tags = _rows(ctx, "repositories"), _rows(ctx, "tags")
    if repositories:
        seen.append(f"{repositories} repository row(s)")
    if tags:
        seen.append(f"{tags} tag row(s)")
    try:
        if _locks(ctx)[0]:
            seen.append("the database-in-use lockfile")
    except CannotEvaluate:
        pass  # the rows alone tell; without rows the lockfile decides below
    if not seen:
        _locks(ctx)
        raise Fail(f"{ctx.site.name}: no imported rows and no database-in-use lockfile",
                   observed="not begun", expected="imported rows or database-in-use")
    return "begun: " + ", ".join(seen)


@check("IMP-005", title="The import is not stopped half-way", severity="critical",
       rationale="The tag import refuses to run when the tags table has rows ('tags already "
                 "present in database'), and only a finished tag import swaps the lockfiles; "
                 "on failure the importer restores filesystem-in-use. Rows in tags with "
                 "filesystem-in-use still there mean an import that is running now or was "
                 "interrupted, which the next step must not build on (https://docs.gitlab.com/"
                 "administration/packages/container_registry_metadata_database_troubleshooting/"
                 ", container-registry registry/datastore/importer.go).",
       remediation="If an import is still running, let it finish ('registry import complete'). "
                   "If it was interrupted: restore the site's registry database from the backup "
                   "taken before the import (or drop and recreate it and run "
                   "gitlab-ctl registry-database migrate up), keep the registry read-only, and "
                   "run the import again (three-step: from step two, or step one with "
                   "--pre-import-skip-recent to resume, GitLab 18.5+).",
       doc=TROUBLESHOOTING)
def test_imp_005_import_not_stopped_half_way(ctx: CheckContext) -> str:
    tags = _rows(ctx, "tags")
    database_lock, filesystem_lock = _locks(ctx)
    if tags and filesystem_lock and not database_lock:
        raise Fail(f"{ctx.site.name}: {tags} tag row(s) in the registry database while "
                   "filesystem-in-use is still the lockfile: an import is running or was "
                   "interrupted", observed=f"{tags} tags, filesystem-in-use",
                   expected="no tags before the tag import, database-in-use after it")
    if database_lock:
        return "the tag import finished (database-in-use)"
    return "tags not imported yet" if not tags else f"{tags} tag row(s)"


@check("IMP-006", title="Read-only until the tags are imported", severity="critical",
       rationale="A one-step import and step two of a three-step import need the registry "
                 "read-only (or stopped): data written meanwhile is lost; step one may run "
                 "read-write, and only after the tag import (database-in-use) may read-only be "
                 "turned off (https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_three_step_import/).",
       remediation="Put the registry in read-only mode ('maintenance' => { 'readonly' => "
                   "{ 'enabled' => true } } in registry['storage'], reconfigure) before the "
                   "tag import (one-step import, or step two of three).",
       doc=THREE_STEP)
def test_imp_006_read_only_until_tags_imported(ctx: CheckContext) -> str:
    if _locks(ctx)[0]:
        return "the tags are imported (database-in-use): read-only may be off"
    readonly, message = _holds(ctx, "REG-010", ctx.site)
    if not readonly:
        raise Fail(f"{ctx.site.name}: the tags are not imported yet and the registry is "
                   f"read-write ({message}); the tag import (one-step, or step two) needs "
                   "read-only", observed="read-write before the tag import",
                   expected="storage.maintenance.readonly.enabled: true")
    return "read-only while the tags are imported"


@check("IMP-004", title="Every secondary is imported before the primary", severity="critical",
       scope="deployment",
       rationale="GitLab's page imports the secondary sites first, then the primary: Geo "
                 "replicates through the registries' notifications, and a primary on the "
                 "metadata database while a secondary is still legacy breaks that order "
                 "(https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/). A deployment-wide row, so --site "
                 "never drops it.",
       remediation="Import every secondary first (geopreflight --step=import-secondary "
                   "--site=<secondary>), then the primary.",
       doc=GEO_PAGE)
def test_imp_004_secondaries_imported_first(ctx: CheckContext) -> str:
    secondaries = [s for s in ctx.inventory.sites if s.role == "secondary"]
    left = []
    for site in secondaries:
        imported = all(_holds(ctx, cid, site)[0] for cid in ("REG-006", "IMP-002"))
        if not imported:
            left.append(site.name)
    if left:
        raise Fail(f"not imported yet: {', '.join(left)}", observed=", ".join(left),
                   expected="every secondary in database mode with database-in-use")
    return f"imported: {', '.join(s.name for s in secondaries)}"


@check("DB-012", title="Every site's metadata database is set up", severity="critical",
       scope="deployment",
       rationale="Replication between the registries of a Geo deployment needs each site's "
                 "registry on its own metadata database, reachable and migrated "
                 "(https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/). A deployment-wide row, so --site "
                 "never drops it.",
       remediation="Set up the metadata database on every site (its own external PostgreSQL, "
                   "gitlab-ctl registry-database migrate up) before configuring replication.",
       doc=GEO_PAGE)
def test_db_012_every_site_metadata_db_set_up(ctx: CheckContext) -> str:
    left = []
    for site in ctx.inventory.sites:
        if site.metadata_db is None:
            raise CannotEvaluate(f"the inventory gives no metadata_db for {site.name}")
        if not all(_holds(ctx, cid, site)[0] for cid in ("DB-001", "DB-008")):
            left.append(site.name)
    if left:
        raise Fail(f"the metadata database is not set up on {', '.join(left)}",
                   observed=", ".join(left), expected="every site reachable and migrated")
    return "every site's metadata database is reachable and migrated"
