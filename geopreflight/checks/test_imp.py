"""The import: the storage lockfiles before and after it, whether it has begun or stopped
half-way, and the order between sites (secondaries first). The lockfiles:
https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/datastore/importer.go."""

from __future__ import annotations

from geopreflight.catalog import CannotEvaluate, Fail, NotApplicable, check
from geopreflight.context import CheckContext
from geopreflight.i18n import _

from . import GEO_PAGE, METADATA_DB_PAGE
from . import _views as sv
from ._content import shortfall
from ._geo import geo_sites_of
from ._rules import header_mode
from ._views import REGISTRY

TROUBLESHOOTING = ("https://docs.gitlab.com/administration/packages/"
                   "container_registry_metadata_database_troubleshooting/")


def _expect_only(ctx: CheckContext, want: str) -> str:
    """Pass when `want` is the only lockfile; fail naming what is there otherwise."""
    db, fs = _locks(ctx)
    if _state(db, fs) != want:
        raise Fail(_("{site}: {state} in the storage's lockfiles directory").format(
                       site=sv.where(ctx), state=_state(db, fs)),
                   observed=_state(db, fs), expected=f"{want} only")
    return _("{want} only").format(want=want)


def _locks(ctx: CheckContext) -> tuple[bool, bool]:
    why = sv.disabled_reason(ctx)
    if why:
        raise Fail(_("{site} has no registry ({why}), so nothing was imported").format(
                       site=ctx.site.name, why=why),
                   observed=why, expected="an enabled registry with its storage lockfiles")
    locks = sv.lockfiles(ctx)
    if not locks.readable:
        raise CannotEvaluate(_("{site}: the storage lockfiles cannot be read: {why}").format(
                                 site=sv.where(ctx), why=locks.why))
    return bool(locks.database_in_use), bool(locks.filesystem_in_use)


def _state(db: bool, fs: bool) -> str:
    names = [n for n, on in (("database-in-use", db), ("filesystem-in-use", fs)) if on]
    return " and ".join(names) or "no lockfile"


@check("IMP-001", title="The lockfiles say the site has not been imported", severity="critical",
       rationale="A legacy registry with data writes filesystem-in-use at start-up "
                 "(https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/"
                 "handlers/app.go); a finished import replaces it with database-in-use, and a "
                 "second import then fails ('database-in-use lockfile exists', https://gitlab.com/"
                 "gitlab-org/container-registry/-/blob/master/registry/datastore/importer.go); "
                 "both lockfiles stop the registry. Read under the filesystem storage root.",
       remediation="If database-in-use is there the site is imported: go on with the next "
                   "step. If no lockfile exists, restart the registry in legacy mode "
                   "(enabled false) so it writes filesystem-in-use; never leave both.",
       doc=TROUBLESHOOTING, host_roles=REGISTRY)
def test_imp_001_not_imported_yet(ctx: CheckContext) -> str:
    locks = sv.lockfiles(ctx)
    if not locks.readable and not sv.disabled_reason(ctx) and \
            sv.config_yml(ctx).storage_backend not in (None, "filesystem"):
        return _not_imported_without_lockfiles(ctx, str(locks.why))
    return _expect_only(ctx, "filesystem-in-use")


def _not_imported_without_lockfiles(ctx: CheckContext, why: str) -> str:
    """On object storage the checker cannot read: the registry's own header and the
    database's rows decide instead (an import writes rows before it swaps the lockfiles),
    and the row says which sources it used."""
    header = header_mode(sv.gitlab_registry(ctx).database_enabled)
    repositories, tags = _rows(ctx, "repositories"), _rows(ctx, "tags")
    used = (f"header Gitlab-Container-Registry-Database-Enabled: {header}; "
            f"{repositories} repository and {tags} tag row(s) in the database")
    if header != "legacy" or repositories or tags:
        raise Fail(_("{site}: {used}: the site is imported or the import has begun (lockfiles "
                     "not read: {why})").format(site=ctx.site.name, used=used, why=why),
                   observed=used,
                   expected="legacy, no imported rows")
    return _("not imported, decided from: {used}; lockfile source absent ({why})").format(
               used=used, why=why)


@check("IMP-002", title="The lockfiles say the import finished", severity="critical",
       rationale="When the tag import succeeds, the importer removes filesystem-in-use and creates "
                 "database-in-use; on failure or a dry run it restores filesystem-in-use "
                 "(https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/"
                 "datastore/importer.go).",
       remediation="Run (or re-run) sudo -u registry gitlab-ctl registry-database import on "
                   "the site and check that it ends with 'registry import complete'.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_imp_002_import_finished(ctx: CheckContext) -> str:
    return _expect_only(ctx, "database-in-use")


THREE_STEP = ("https://docs.gitlab.com/administration/packages/"
              "container_registry_metadata_database_three_step_import/")


def _rows(ctx: CheckContext, table: str) -> int:
    return int(sv.table(ctx, table).rows)


@check("IMP-003", title="The import has begun on this site", severity="info",
       rationale="An import writes rows to the registry database before it swaps the "
                 "lockfiles: step one (pre-import) fills repositories and manifests, the tag "
                 "import fills tags, and a finished tag import replaces filesystem-in-use with "
                 "database-in-use (https://gitlab.com/gitlab-org/container-registry/-/blob/"
                 "master/registry/datastore/importer.go). Any of these means the step is under "
                 "way, so the run says IN PROGRESS instead of judging the step from scratch. "
                 "Read once per site: one metadata database (DB-006 holds every registry node's "
                 "config.yml to the inventory's) and one storage behind all the site's registry "
                 "nodes (REG-015 compares each node's bucket with the inventory's).",
       remediation="Nothing to do: this row only tells geopreflight that the import began.",
       doc=METADATA_DB_PAGE)
def test_imp_003_import_has_begun(ctx: CheckContext) -> str:
    seen = []
    repositories, tags = _rows(ctx, "repositories"), _rows(ctx, "tags")
    if repositories:
        seen.append(_("{repositories} repository row(s)").format(repositories=repositories))
    if tags:
        seen.append(_("{tags} tag row(s)").format(tags=tags))
    try:
        if _locks(ctx)[0]:
            seen.append(_("the database-in-use lockfile"))
    except CannotEvaluate:
        pass  # the rows alone tell; without rows the lockfile decides below
    if not seen:
        _locks(ctx)
        raise Fail(_("{site}: no imported rows and no database-in-use lockfile").format(
                       site=ctx.site.name),
                   observed="not begun", expected="imported rows or database-in-use")
    return _("begun: {evidence}").format(evidence=", ".join(seen))


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
       doc=TROUBLESHOOTING, host_roles=REGISTRY)
def test_imp_005_import_not_stopped_half_way(ctx: CheckContext) -> str:
    tags = _rows(ctx, "tags")
    database_lock, filesystem_lock = _locks(ctx)
    if tags and filesystem_lock and not database_lock:
        raise Fail(_("{site}: {tags} tag row(s) in the registry database while "
                     "filesystem-in-use is still the lockfile: an import is running or was "
                     "interrupted").format(site=ctx.site.name, tags=tags),
                   observed=f"{tags} tags, filesystem-in-use",
                   expected="no tags before the tag import, database-in-use after it")
    if database_lock:
        return _("the tag import finished (database-in-use)")
    return _("tags not imported yet") if not tags else _("{tags} tag row(s)").format(tags=tags)


@check("IMP-006", title="Read-only until the tags are imported", severity="critical",
       rationale="A one-step import and step two of a three-step import need the registry "
                 "read-only (or stopped): data written meanwhile is lost; step one may run "
                 "read-write, and only after the tag import (database-in-use) may read-only be "
                 "turned off (https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_three_step_import/).",
       remediation="Put the registry in read-only mode ('maintenance' => { 'readonly' => "
                   "{ 'enabled' => true } } in registry['storage'], reconfigure) before the "
                   "tag import (one-step import, or step two of three), on every registry node.",
       doc=THREE_STEP, host_roles=REGISTRY, depends_on=("REG-010",))
def test_imp_006_read_only_until_tags_imported(ctx: CheckContext) -> str:
    if _locks(ctx)[0]:
        return _("the tags are imported (database-in-use): read-only may be off")
    readonly, message = sv.passes(ctx, "REG-010", ctx.site)
    if not readonly:
        raise Fail(_("{site}: the tags are not imported yet and the registry is read-write "
                     "({message}); the tag import (one-step, or step two) needs read-only").format(
                       site=sv.where(ctx), message=message),
                   observed="read-write before the tag import",
                   expected="storage.maintenance.readonly.enabled: true")
    return _("read-only while the tags are imported")


@check("IMP-004", title="Every secondary is imported before the primary", severity="critical",
       scope="deployment",
       rationale="GitLab's page imports the secondary sites first, then the primary: Geo "
                 "replicates through the registries' notifications, and a primary on the "
                 "metadata database while a secondary is still legacy breaks that order "
                 "(https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/). The secondaries are the primary's "
                 "own list (GET /geo_sites, https://docs.gitlab.com/api/geo_sites/), so a Geo "
                 "site the inventory leaves out fails here, named: its registry cannot be read, "
                 "so it cannot be shown imported. A deployment-wide row, so --site never drops "
                 "it.",
       remediation="Import every secondary first (geopreflight --step=import-secondary "
                   "--site=<secondary>), then the primary; add every Geo site to the inventory.",
       doc=GEO_PAGE, depends_on=("REG-006", "IMP-002"))
def test_imp_004_secondaries_imported_first(ctx: CheckContext) -> str:
    left, done = [], []
    for geo_site, site in geo_sites_of(ctx):
        if geo_site.primary:
            continue
        if site is None:
            left.append(_("{name} (a Geo secondary not in the inventory: its import cannot "
                          "be read)").format(name=geo_site.name))
        elif all(sv.passes(ctx, cid, site)[0] for cid in ("REG-006", "IMP-002")):
            done.append(site.name)
        else:
            left.append(site.name)
    if left:
        raise Fail(_("not imported yet: {names}").format(names=', '.join(left)),
                   observed=", ".join(left),
                   expected="every Geo secondary in database mode with database-in-use")
    return _("imported: {names}").format(names=', '.join(done) or _("no Geo secondary"))


IMPORTER = ("https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/datastore/"
            "importer.go")


@check("IMP-007", title="The metadata database holds the legacy storage's repositories and tags",
       severity="critical",
       rationale="The mode and the lockfiles do not prove an import: deleting filesystem-in-use "
                 "and setting enabled true gives an empty database the registry then marks "
                 "database-in-use itself, and the importer skips a repository whose _manifests "
                 "paths are missing yet still swaps the lockfiles (" + IMPORTER + "). On the "
                 "primary, Geo's sync then removes from each secondary the tags the primary "
                 "lacks (tags_to_remove in https://gitlab.com/gitlab-org/gitlab/-/blob/master/"
                 "ee/app/services/geo/container_repository_sync.rb). So once the tag import has "
                 "finished (not filesystem-in-use alone), the database must hold every "
                 "repository and at least as many tags as the legacy storage (its "
                 "directories under _manifests/tags/): counted on both sides, compared in total, "
                 "per md5(path) bucket and name by name for a sample. Tags deleted after the "
                 "import leave their legacy links behind, so a long-lived site may need a "
                 "waiver naming them.",
       remediation="Do not turn read-only off or go on to the next site. Restore the site's "
                   "registry database from the backup taken before the import (or drop and "
                   "recreate it and run gitlab-ctl registry-database migrate up), put the "
                   "registry back in legacy mode (database enabled false, filesystem-in-use, "
                   "no database-in-use), check that the repositories named are complete in the "
                   "storage, and run the import again, read-only, until it ends with 'registry "
                   "import complete'.",
       doc=METADATA_DB_PAGE)
def test_imp_007_content_imported(ctx: CheckContext) -> str:
    finished = _tag_import_finished(ctx)
    if not finished:
        raise NotApplicable(_("{site}: the tag import has not finished (filesystem-in-use): "
                              "its content is judged once it has").format(site=ctx.site.name))
    storage = ctx.fact("storage.content")
    db = ctx.fact("db.content")
    short = shortfall(storage, db)
    said = short.describe(storage, db)
    if short.short:
        raise Fail(_("{site}: the import is incomplete ({finished}): {said}").format(
                       site=ctx.site.name, finished=finished, said=said),
                   observed=said, expected=f"every one of the storage's {storage.repositories}"
                   f" repositories and {storage.tags} tags in the metadata database")
    if not storage.repositories:
        return _("the legacy storage holds no repositories ({read}): nothing to "
                 "import").format(read=storage.read)
    return said


def _tag_import_finished(ctx: CheckContext) -> str | None:
    """Why the site's tag import counts as finished (None: it has not): any lockfile state but
    filesystem-in-use alone; on unread lockfiles, the registry's own header."""
    locks = sv.lockfiles(ctx)
    if locks.readable:
        if locks.filesystem_in_use and not locks.database_in_use:
            return None
        return "database-in-use" if locks.database_in_use else _("no filesystem-in-use lockfile")
    mode = header_mode(sv.gitlab_registry(ctx).database_enabled)
    if mode == "database":
        return _("the registry serves from its database")
    if mode == "legacy":
        return None
    raise CannotEvaluate(_("{site}: neither the lockfiles ({why}) nor the registry's header say "
                           "whether the tag import finished").format(site=ctx.site.name,
                                                                     why=locks.why))


@check("IMP-008", title="How long the import will keep the registry read-only", severity="info",
       rationale="Operators schedule the change window around the read-only time of the tag "
                 "import (the whole one-step import, or step two of three). GitLab publishes "
                 "only ranges (https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_three_step_import/: step one at 2 to 4 "
                 "TB an hour); a finished import on another site of the same content predicts "
                 "better, and the registry records each run in import_statistics "
                 "(https://gitlab.com/gitlab-org/container-registry/-/blob/master/docs/spec/"
                 "gitlab/api.md, Statistics). Advisory: an estimate never blocks a step.",
       remediation="Plan the change window on the high end of the range; import a secondary "
                   "first (the seed procedure does) so that the primary's estimate is "
                   "calibrated on a real run.",
       doc=THREE_STEP)
def test_imp_008_import_duration_estimate(ctx: CheckContext) -> str:
    from geopreflight.estimate import LABELS, format_duration
    from geopreflight.window import Unknown, runs, site_estimate

    done = [r for r in runs(ctx.facts, ctx.site.name) if r.phase in ("import", "step-two")]
    if done:
        return _("measured, not estimated: {phase} took {duration} for {tags} tags "
                 "({source})").format(phase=LABELS[done[0].phase],
                                      duration=format_duration(done[0].seconds),
                                      tags=done[0].tags, source=done[0].source)
    said, basis = [], ""
    for method in ("one-step", "three-step"):
        try:
            found = site_estimate(ctx.facts, ctx.inventory, ctx.site.name, method)
        except Unknown as exc:
            raise CannotEvaluate(str(exc)) from None
        basis = basis or found.phases[0].basis
        low, high = found.read_only_s
        total = (sum(p.low_s for p in found.phases), sum(p.high_s for p in found.phases))
        said.append(_("{method}: read-only {low} to {high}").format(
            method=method, low=format_duration(low), high=format_duration(high))
            + (_(" (all steps {low} to {high})").format(low=format_duration(total[0]),
                                                     high=format_duration(total[1]))
               if method == "three-step" else ""))
    return _("{estimates}; basis: {basis}").format(estimates="; ".join(said), basis=basis)
