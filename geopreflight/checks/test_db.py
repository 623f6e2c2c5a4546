"""The registry metadata database: reachable, recent enough, one per site and independent,
external, the one the registry uses, configured for imports and migrations, and holding the
data each step expects."""

from __future__ import annotations

from geopreflight.catalog import CannotEvaluate, Fail, NotApplicable, Outcome, Warn, check
from geopreflight.context import CheckContext
from geopreflight.facts import FactError
from geopreflight.i18n import _
from geopreflight.probes.models import ConfigDb, DbRoute, DbServer, DbTable, ResolvedHost
from geopreflight.versions import at_least

from . import GEO_PAGE, METADATA_DB_PAGE
from . import _views as sv
from ._geo import missing_sites, own_version
from ._rules import normal_host
from ._views import REGISTRY

TROUBLESHOOTING = ("https://docs.gitlab.com/administration/packages/"
                   "container_registry_metadata_database_troubleshooting/")
EXTERNAL_DB = METADATA_DB_PAGE + "#using-an-external-database"
BUNDLED_PG_DIR = "/var/opt/gitlab/postgresql"
PG_FLOOR_NUM, PG_FLOOR = 150000, "15"
# The registry refuses to start on PostgreSQL older than MinPostgresqlVersion "15.0"
# (registry/datastore/datastore.go) from container registry v4.24.0, which the Linux package
# bundles from GitLab 18.2.0 (omnibus-gitlab config/software/registry.rb).
REGISTRY_WITH_FLOOR, GITLAB_WITH_FLOOR = "4.24.0", "18.2.0"
FLOOR_SOURCES = ("https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/"
                 "datastore/datastore.go, https://gitlab.com/gitlab-org/container-registry/-/"
                 "blob/master/CHANGELOG.md (v4.24.0), https://gitlab.com/gitlab-org/"
                 "omnibus-gitlab/-/blob/master/config/software/registry.rb")


# the clause of each rationale of a check that reads the site's one metadata database
ONE_DB = ("Read once per site: a site's registry nodes share one metadata database, the "
          "inventory's DSN (DB-006 fails a node whose config.yml names another).")


@check("DB-001", title="The registry metadata database is reachable (read-only)",
       severity="critical",
       rationale="Every metadata-database step needs the site's registry PostgreSQL reachable "
                 "(https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database/), here with the inventory's credentials; "
                 "geopreflight reads it only in read-only transactions with statement_timeout and "
                 "never writes.",
       remediation="Fix metadata_db in the inventory (DSN, user, password) or the network and "
                   "pg_hba.conf so that the checker can connect; use the registry's own user "
                   "or a read-only monitoring user.",
       doc=METADATA_DB_PAGE)
def test_db_001_database_reachable(ctx: CheckContext) -> str:
    info = sv.db(ctx)  # unreachable: an error row (design: could not evaluate), with the why
    return (_("PostgreSQL {version}, database {dbname} as {user} (system_identifier "
              "{system_identifier})").format(
                version=info.version, dbname=info.dbname, user=info.user,
                system_identifier=info.system_identifier))


# GitLab's own PostgreSQL minimum by GitLab version, newest first: 17 for 19.x ("The minimum
# supported version of PostgreSQL is now version 17", https://docs.gitlab.com/update/versions/
# gitlab_19_changes/), 16 for 18.x (https://gitlab.com/gitlab-org/gitlab/-/merge_requests/
# 190814, https://docs.gitlab.com/install/requirements/). Before 18 GitLab's minimum (14) is
# below the registry's 15, so the registry's floor is the binding one.
GITLAB_PG_MINIMUM = (("19.0", 170000, "17", "GitLab 19 upgrade notes"),
                     ("18.0", 160000, "16", "gitlab!190814"))


def gitlab_pg_minimum(gitlab_version: str) -> tuple[int, str, str] | None:
    """GitLab's own PostgreSQL minimum for a GitLab version, with its source (None: the
    registry's floor binds).

    >>> [gitlab_pg_minimum(v) for v in ("17.10.2-ee", "18.3.1-ee", "19.0.0-ee")]
    [None, (160000, '16', 'gitlab!190814'), (170000, '17', 'GitLab 19 upgrade notes')]
    """
    for since, num, shown, source in GITLAB_PG_MINIMUM:
        if at_least(gitlab_version, since):
            return num, shown, source
    return None


def floor_enforced(registry_version: str | None, gitlab_version: str | None) -> bool:
    """Whether the registry refuses PostgreSQL below 15: registry v4.24.0 or later; with the
    registry's version unknown, GitLab 18.2 or later (the bundled registry); both unknown
    counts as enforcing (fail closed).

    >>> [floor_enforced(r, g) for r, g in (("4.24.0-gitlab", None), ("v4.23.1-gitlab", "19.0.0"),
    ...                                     (None, "18.2.0-ee"), (None, "18.1.4-ee"), (None, None))]
    [True, False, True, False, True]
    """
    if registry_version:
        return at_least(registry_version.lstrip("v").split("-")[0], REGISTRY_WITH_FLOOR)
    return gitlab_version is None or at_least(gitlab_version, GITLAB_WITH_FLOOR)


def pg_floor(version_num: int, registry_version: str | None,
             gitlab_version: str | None = None) -> Outcome:
    """DB-002's registry rule (see its rationale): `pass` at PostgreSQL 15 or later; below it
    `fail` where the registry enforces the floor (`floor_enforced`), else `warn` (documented,
    not enforced).

    >>> def floor(*cases): return [pg_floor(*c).value for c in cases]
    >>> floor((150004, "4.39.0-gitlab"), (160002, None))
    ['pass', 'pass']
    >>> floor((140011, "4.24.0-gitlab"), (140011, "v4.40.1-gitlab"), (140011, None, "18.2.0"))
    ['fail', 'fail', 'fail']
    >>> floor((140011, "4.23.2-gitlab"), (130016, "3.93.0-gitlab"), (140011, None, "18.1.2"))
    ['warn', 'warn', 'warn']
    """
    if version_num >= PG_FLOOR_NUM:
        return Outcome.PASS
    return Outcome.FAIL if floor_enforced(registry_version, gitlab_version) else Outcome.WARN


@check("DB-002", title="PostgreSQL is at least the registry's floor and GitLab's minimum",
       severity="critical",
       rationale="The container registry refuses to start on PostgreSQL older than 15.0 "
                 "(MinPostgresqlVersion) from registry v4.24.0, bundled from GitLab 18.2.0 ("
                 + FLOOR_SOURCES + "): there, below 15 is a fail (the registry version from its "
                 "Gitlab-Container-Registry-Version header, else GitLab's: 18.2 or later); "
                 "older registries only document it, a warning. GitLab's own minimum moves with "
                 "its version: PostgreSQL 16 for GitLab 18.x (https://gitlab.com/gitlab-org/"
                 "gitlab/-/merge_requests/190814, https://docs.gitlab.com/install/"
                 "requirements/), 17 for GitLab 19.x (https://docs.gitlab.com/update/versions/"
                 "gitlab_19_changes/); below it a warning. GitLab's version is the site's own "
                 "report (Geo status or /api/v4/metadata).",
       remediation="Upgrade the registry's PostgreSQL to 15 or later, and to GitLab's minimum "
                   "for the GitLab version the site runs (16 on 18.x, 17 on 19.x), before "
                   "enabling or importing the metadata database.",
       doc=METADATA_DB_PAGE)
def test_db_002_postgresql_at_least_floor(ctx: CheckContext) -> str:
    info = sv.db(ctx)
    try:
        reg_version = sv.gitlab_registry(ctx).version
    except (CannotEvaluate, FactError):
        reg_version = None
    try:
        gitlab = own_version(ctx, ctx.site)
    except (CannotEvaluate, FactError) as exc:
        gitlab, unknown = None, str(exc)
    shown = info.version
    versions = _("registry {registry}, GitLab {gitlab}").format(
        registry=reg_version or _("(version unknown)"),
        gitlab=gitlab.version if gitlab else _("(version unknown)"))
    verdict = pg_floor(info.version_num, reg_version, gitlab.version if gitlab else None)
    if verdict == Outcome.FAIL:
        raise Fail(_("{site}'s registry metadata database runs PostgreSQL {shown}; {versions} "
                     "enforces {pg_floor} or later (from registry v{registry_floor}, GitLab "
                     "{gitlab_floor})").format(
                       site=ctx.site.name, shown=shown, versions=versions, pg_floor=PG_FLOOR,
                       registry_floor=REGISTRY_WITH_FLOOR, gitlab_floor=GITLAB_WITH_FLOOR),
                   observed=shown, expected=f">= {PG_FLOOR}")
    if verdict == Outcome.WARN:
        raise Warn(_("{site}'s {versions} predates the enforced floor (registry "
                     "v{registry_floor}, GitLab {gitlab_floor}), but PostgreSQL {shown} is below "
                     "the documented {pg_floor}; upgrade it").format(
                       site=ctx.site.name, versions=versions, registry_floor=REGISTRY_WITH_FLOOR,
                       gitlab_floor=GITLAB_WITH_FLOOR, shown=shown, pg_floor=PG_FLOOR),
                   observed=shown, expected=f">= {PG_FLOOR}")
    if gitlab is None:
        # fail closed: without the version, GitLab's minimum (16 for 18.x, 17 for 19.x) is
        # unknown; the error points at why the version could not be read
        raise CannotEvaluate(_("PostgreSQL {shown} meets the registry's floor {pg_floor}, but "
                               "GitLab's own minimum cannot be judged: the site's GitLab "
                               "version is unknown ({exc})").format(
                                   shown=shown, pg_floor=PG_FLOOR, exc=unknown))
    minimum = gitlab_pg_minimum(gitlab.version)
    if minimum and info.version_num < minimum[0]:
        raise Warn(_("{site}'s registry metadata database runs PostgreSQL {shown}, below "
                     "GitLab {version}'s supported minimum {value} ({value2}; GitLab version "
                     "from {source})").format(
                       site=ctx.site.name, shown=shown, version=gitlab.version, value=minimum[1],
                       value2=minimum[2], source=gitlab.source),
                   observed=shown, expected=f">= {minimum[1]} for GitLab {gitlab.version}")
    floor = _("GitLab {version}'s {value} ({value2})").format(
        version=gitlab.version, value=minimum[1], value2=minimum[2]) if minimum else \
        _("the registry's {pg_floor} (binding for GitLab {version})").format(
            pg_floor=PG_FLOOR, version=gitlab.version)
    return _("PostgreSQL {shown} >= {floor}").format(shown=shown, floor=floor)


def same_instance_evidence(a: DbServer, b: DbServer) -> list[str]:
    """What says two connections with one system_identifier reach one running server, from
    the facts that survive a pooler: the postmaster's start time, the data directory (with
    pg_read_all_settings) and the server's own address and port.

    >>> BASE = dict(system_identifier="1", in_recovery=False, wal_receivers=0, downstream=0,
    ...     version_num=150000, version="15.0", dbname="registry", user="registry",
    ...     server_addr="127.0.0.1/32", server_port=5432, started_at="2026-01-01 00:00:00+00",
    ...     default_transaction_read_only="off", bytea_output="hex", owner="registry")
    >>> def srv(**kw): return DbServer(**{**BASE, **kw})
    >>> same_instance_evidence(srv(), srv(dbname="other"))
    ['postmaster started at 2026-01-01 00:00:00+00', 'server 127.0.0.1/32:5432']
    >>> same_instance_evidence(srv(data_directory="/d"), srv(data_directory="/d", server_port=1))
    ['postmaster started at 2026-01-01 00:00:00+00', 'data directory /d']
    >>> same_instance_evidence(srv(), srv(started_at="2026-02-02", server_port=5433))
    []
    """
    found = []
    if a.started_at and a.started_at == b.started_at:
        found.append(_("postmaster started at {started_at}").format(started_at=a.started_at))
    if a.data_directory and a.data_directory == b.data_directory:
        found.append(_("data directory {data_directory}").format(
                         data_directory=a.data_directory))
    if a.server_addr and (a.server_addr, a.server_port) == (b.server_addr, b.server_port):
        found.append(f"server {a.server_addr}:{a.server_port}")
    return found


def _marker(ctx: CheckContext, a: str, b: str) -> tuple[bool, str]:
    """Whether this run's session marker of one site shows on the other's server (one signal:
    a pooler drops or rewrites it), and a note when the markers could not be read."""
    try:
        sessions = ctx.fact("db.sessions", None)
    except FactError as exc:
        return False, _("; session markers not read ({exc})").format(exc=exc)
    return sessions.shared(a, b), ""


@check("DB-003", title="The site's registry database is its own, independent of other sites'",
       severity="critical", scope="pair",
       rationale="Each Geo site needs its own PostgreSQL instance for the registry metadata; Geo "
                 "replicates the registry through notifications, not the database, and each "
                 "registry must write its own metadata (https://docs.gitlab.com/administration/"
                 "packages/container_registry/using_geo_with_the_container_registry/). Distinct "
                 "clusters have different system_identifiers (https://www.postgresql.org/docs/"
                 "current/functions-info.html); a replica shares its primary's and is in recovery "
                 "or has a WAL receiver; one running server shows the same postmaster start time, "
                 "data directory and server address to both sites, which a pooler (PgBouncer) in "
                 "front of it does not hide, and this run's session marker in pg_stat_activity "
                 "confirms it where no pooler rewrites it (shown on real PostgreSQL by "
                 "tests/test_lab_postgres.py and tests/test_pooler_lab.py).",
       remediation="Give the site a separate, writable PostgreSQL instance for its registry "
                   "database (not a replica, not another site's server or a copy of it) and "
                   "point registry['database'] there.",
       doc=GEO_PAGE)
def test_db_003_own_independent_database(ctx: CheckContext) -> str:
    me = ctx.site
    mine = sv.db(ctx)
    others = [s for s in ctx.inventory.sites if s is not me and s.metadata_db is not None]
    if not others:
        raise NotApplicable(_("no other site with a metadata database in the inventory"))
    seen, notes = [], ""
    for other in others:
        theirs = sv.db(ctx, other)
        sysid = str(mine.system_identifier)
        marker, notes = _marker(ctx, me.name, other.name)
        if sysid != str(theirs.system_identifier) and not marker:
            seen.append(f"{other.name}: {theirs.system_identifier}")
            continue
        if mine.replica:
            raise Fail(_("{me}'s registry database is a streaming replica of {other}'s (same "
                         "system_identifier {sysid}, in recovery, {wal_receivers} WAL "
                         "receiver): read-only, and it holds {other}'s metadata").format(
                           me=me.name, other=other.name, sysid=sysid,
                           wal_receivers=mine.wal_receivers),
                       observed="replica of " + other.name,
                       expected="an independent, writable cluster")
        if theirs.replica:
            raise Fail(_("{other}'s registry database is a streaming replica of {me}'s (same "
                         "system_identifier {sysid})").format(
                           other=other.name, me=me.name, sysid=sysid),
                       observed=f"{other.name} replicates {me.name}",
                       expected="independent clusters")
        evidence = same_instance_evidence(mine, theirs) + (
            [_("this run's session marker from one site shows in the other's pg_stat_activity")]
            if marker else [])
        if evidence:
            raise Fail(_("{me}'s registry database ({db}) is on the same PostgreSQL "
                         "instance as {other}'s ({other_db}): same system_identifier {sysid}, "
                         "{evidence}").format(me=me.name, db=mine.dbname, other=other.name,
                                              other_db=theirs.dbname, sysid=sysid,
                                              evidence=", ".join(evidence)),
                       observed=f"shared server (system_identifier {sysid})",
                       expected="a separate PostgreSQL instance per site")
        raise Fail(_("{me}'s registry database has the same system_identifier ({sysid}) as "
                     "{other}'s but is a separate writable server: a physical copy (promoted "
                     "replica or restored base backup) of it").format(
                       me=me.name, sysid=sysid, other=other.name),
                   observed="physical copy of " + other.name,
                   expected="a cluster created for this site (its own initdb)")
    return _("system_identifier {sysid} differs from {others}").format(
        sysid=mine.system_identifier, others=", ".join(seen)) + notes


@check("DB-004", title="The registry database is writable, not a standby", severity="critical",
       rationale="A registry needs write access to its metadata database; a standby "
                 "(pg_is_in_recovery() true, a WAL receiver) rejects every write with SQLSTATE "
                 "25006 (https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_troubleshooting/). On a Geo secondary the "
                 "bundled PostgreSQL is exactly such a replica of the primary (inferred from the "
                 "pg_basebackup of https://docs.gitlab.com/administration/geo/setup/"
                 "two_single_node_sites/).",
       remediation="Point the site's registry at a writable PostgreSQL primary of its own.",
       doc=GEO_PAGE)
def test_db_004_writable_not_standby(ctx: CheckContext) -> str:
    info = sv.db(ctx)
    if info.replica:
        raise Fail(_("{site}'s registry database is a standby: pg_is_in_recovery() is "
                     "{in_recovery}, {wal_receivers} WAL receiver(s)").format(
                       site=ctx.site.name, in_recovery=info.in_recovery,
                       wal_receivers=info.wal_receivers),
                   observed="in recovery (read-only)", expected="a writable primary server")
    return _("not in recovery, no WAL receiver")


def _bundled(ctx: CheckContext) -> tuple[bool, str]:
    """Whether config.yml points the registry at the Linux package's PostgreSQL (F1)."""
    cfg = sv.config_yml(ctx).database
    pg_enabled = sv.rb_get(ctx, "postgresql", "enable", default=True)
    listen = str(sv.rb_get(ctx, "postgresql", "listen_address", default="") or "")
    pg_port = sv.rb_get(ctx, "postgresql", "port", default=5432)
    host, port = (cfg.host, cfg.port or 5432) if cfg else (None, 5432)
    where = f"config.yml database.host={host!r}, port={port}"
    if pg_enabled is False:
        return False, f"{where}; postgresql['enable'] = false"
    local = {BUNDLED_PG_DIR, normal_host(listen.split(",")[0]) if listen else None}
    if not host or str(host).rstrip("/") in local or normal_host(host) in local:
        if int(port) == int(pg_port):
            return True, _("{where}, the bundled PostgreSQL (postgresql['enable'] is on, "
                           "listen_address {value}, port {pg_port})").format(
                             where=where, value=listen or 'unset', pg_port=pg_port)
    return False, _("{where}, not the bundled PostgreSQL's socket or listen address").format(
                      where=where)


@check("DB-005", title="The registry database is external, not the bundled PostgreSQL",
       severity="critical",
       rationale="With Geo each site needs a separate external PostgreSQL for the registry "
                 "metadata (https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/). An unset registry database host "
                 "resolves to the Linux package's PostgreSQL socket or listen address "
                 "(https://gitlab.com/gitlab-org/omnibus-gitlab/-/blob/master/files/"
                 "gitlab-cookbooks/gitlab/libraries/registry.rb); on a secondary that PostgreSQL "
                 "is a read-only replica of the primary's (inferred from the Geo set-up's "
                 "pg_basebackup). Decided from the rendered config.yml and gitlab.rb, never from "
                 "the inventory's DSN.",
       remediation="Create a registry database on a separate PostgreSQL instance for the site "
                   "and set registry['database'] host, port, user, password and dbname to it "
                   "(move the data first when the bundled one holds it), then reconfigure.",
       doc=EXTERNAL_DB, host_roles=REGISTRY)
def test_db_005_external_not_bundled(ctx: CheckContext) -> str:
    bundled, how = _bundled(ctx)
    if bundled:
        extra = (_(" On a Geo secondary the bundled PostgreSQL is a read-only replica of the "
                   "primary's, so this registry would read the primary's metadata and fail on "
                   "every write.") if ctx.site.role == "secondary" else "")
        raise Fail(_("{where}: the registry uses the bundled PostgreSQL: {how}.{extra}").format(
                       where=sv.where(ctx), how=how, extra=extra),
                   observed="bundled PostgreSQL", expected="a separate external PostgreSQL")
    return how


def _addresses(ctx: CheckContext, host: str) -> set[str]:
    """The addresses the probe resolved for config.yml's database host (never resolved
    here: a check touches no network, so a replay gives the same answer)."""
    resolved: ResolvedHost = ctx.fact("db.registry_host")
    if resolved.host != host:
        raise CannotEvaluate(_("{site}: the probe resolved {host!r}, not config.yml's "
                               "database host {host2!r}").format(
                                 site=ctx.site.name, host=resolved.host, host2=host))
    return set(resolved.addresses)


@check("DB-006", title="The inventory's database is the one the registry uses", severity="high",
       rationale="The inventory's DSN is only the checker's route; the checks about the database "
                 "only mean something if it reaches the host, port and database that the "
                 "registry's rendered config.yml names (https://gitlab.com/gitlab-org/"
                 "omnibus-gitlab/-/blob/master/files/gitlab-cookbooks/registry/templates/default/"
                 "registry-config.yml.erb). A pooler (PgBouncer, port 6432) in front of the "
                 "database answers with its backend's address and port, so where they differ the "
                 "probe follows config.yml's own host and port and accepts it when the same "
                 "server (system_identifier, database, postmaster start time) answers there; no "
                 "DNS at check time. Per registry node: a node naming another database than the "
                 "row's fails first, so the route and the resolved host, read from the site's "
                 "registry node's config.yml, stand for every node.",
       remediation="Make metadata_db in the inventory point at config.yml's database host, "
                   "port and dbname (or fix registry['database'] and reconfigure); every "
                   "registry node of a site must name the same database.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_db_006_inventory_reaches_registry_database(ctx: CheckContext) -> str:
    cfg = sv.config_yml(ctx).database
    _same_database_on_every_node(ctx, cfg)
    info = sv.db(ctx)
    want_host = cfg.host if cfg else None
    want_port = int((cfg.port if cfg else None) or 5432)
    want_db = (cfg.dbname if cfg else None) or "registry"
    got_addr = (info.server_addr or "").split("/")[0] or None
    got = f"{got_addr or 'unix socket'}:{info.server_port}/{info.dbname}"
    want = f"{want_host}:{want_port}/{want_db}"
    problems = []
    if info.dbname != want_db:
        problems.append(_("database name"))
    if int(info.server_port or 5432) != want_port:
        problems.append("port")
    if want_host and not str(want_host).startswith("/") and got_addr and \
            normal_host(got_addr) != normal_host(want_host):
        ips = {normal_host(a) for a in _addresses(ctx, str(want_host))}
        if normal_host(got_addr) not in ips:
            problems.append("host")
    if not problems:
        return _("{got} matches config.yml {want}").format(got=got, want=want)
    route = ctx.fact("db.registry_route") if ctx.facts.has("db.registry_route", ctx.site.name) \
        else None
    if route is not None and route.same_as_inventory:
        return (_("the inventory names config.yml's own {want}; the server behind it answers "
                  "as {got} (a pooler in front of it)").format(want=want, got=got))
    backend = _same_backend(route, info)
    if backend:
        return (_("config.yml's {want} leads to the database the inventory reaches ({got}): "
                  "{backend} (a pooler in front of it, or the inventory reaching through "
                  "one)").format(want=want, got=got, backend=backend))
    why = _("; following config.yml's route failed: {error}").format(error=route.error) \
        if route and route.error else ""
    raise Fail(_("the inventory's DSN for {site} reaches {got}, but config.yml says {want} "
                 "({names} differ){why}").format(
                   site=ctx.site.name, got=got, want=want, names=', '.join(problems), why=why),
               observed=got, expected=want)


def _same_database_on_every_node(ctx: CheckContext, cfg: ConfigDb | None) -> None:
    """Fail when another registry node of the site names another database in its config.yml:
    the inventory's one DSN cannot be the database of both."""
    mine = _db_target(cfg)
    for label, node in sv.nodes(ctx, ctx.site, REGISTRY):
        if label == sv.where(ctx):
            continue
        theirs = _db_target(sv.config_yml(node).database)
        if theirs != mine:
            raise Fail(_("the registry nodes of {site} use different databases: {where} "
                         "{mine}, {label} {theirs}").format(
                           site=ctx.site.name, where=sv.where(ctx), mine=mine, label=label,
                           theirs=theirs),
                       observed=f"{sv.where(ctx)}: {mine}; {label}: {theirs}",
                       expected="one metadata database for every registry node of the site")


def _db_target(cfg: ConfigDb | None) -> str:
    """config.yml's database as host:port/dbname, hosts compared loosely."""
    host = normal_host(cfg.host if cfg else None) or "(unset)"
    port = (cfg.port if cfg else None) or 5432
    return f"{host}:{port}/{(cfg.dbname if cfg else None) or 'registry'}"


def _same_backend(route: DbRoute | None, info: DbServer) -> str:
    """The evidence that config.yml's route reached the inventory's own database: the same
    system_identifier, database and postmaster start time (empty when it did not)."""
    if route is None or route.error or not route.system_identifier:
        return ""
    if (route.system_identifier, route.reached_dbname, route.started_at) != \
            (info.system_identifier, info.dbname, info.started_at):
        return ""
    return (_("system_identifier {system_identifier}, database {dbname}, postmaster started "
              "at {started_at}").format(
                system_identifier=info.system_identifier, dbname=info.dbname,
                started_at=info.started_at))


def _registry_user(ctx: CheckContext, info: DbServer) -> tuple[str, str]:
    """The user the registry connects as, and where that comes from: config.yml, else
    gitlab.rb (the registry not rendered yet, as before its set-up), else the inventory's."""
    try:
        cfg = sv.config_yml(ctx).database
        return ((cfg.user if cfg else None) or "registry", "config.yml database.user")
    except CannotEvaluate:
        pass
    user = sv.rb_get(ctx, "registry", "database", "user")
    if user:
        return str(user), "gitlab.rb registry['database']['user']"
    return str(info.user), _("the inventory's DSN user; no config.yml yet")


ROLE_SPECIFIC = ("user", "database user")  # pg_settings.source of a role's own setting


def registry_setting(info: DbServer, name: str, user: str) -> tuple[str | None, str]:
    """The value of setting `name` in the registry user's sessions, and where it comes from:
    `ALTER ROLE user IN DATABASE`, `ALTER ROLE user`, `ALTER DATABASE` (pg_db_role_setting,
    in PostgreSQL's order of precedence), else the server's own value, which the checker's
    session shows unless a setting of the checker's own role hides it (then None).

    >>> from geopreflight.probes.models import RoleSetting
    >>> rows = [RoleSetting("mon", False, {"default_transaction_read_only": "on"}),
    ...         RoleSetting("", True, {"bytea_output": "escape"})]
    >>> info = DbServer("1", False, 0, 0, 150000, "15", "registry", "mon", None, None, None,
    ...                 "on", "escape", "registry", role_settings=rows,
    ...                 settings_source={"default_transaction_read_only": "user"})
    >>> registry_setting(info, "bytea_output", "registry")
    ('escape', 'ALTER DATABASE registry SET')
    >>> registry_setting(info, "default_transaction_read_only", "registry")[0] is None
    True
    >>> registry_setting(info, "default_transaction_read_only", "mon")
    ('on', "the checker's session as mon")
    """
    session = getattr(info, name)
    if info.role_settings is None or user == info.user:
        return session, _("the checker's session as {user}").format(user=info.user)
    for role, in_db, label in ((user, True, f"ALTER ROLE {user} IN DATABASE {info.dbname} SET"),
                               (user, False, f"ALTER ROLE {user} SET"),
                               ("", True, f"ALTER DATABASE {info.dbname} SET")):
        for row in info.role_settings:
            if (row.role, row.database) == (role, in_db) and name in row.settings:
                return row.settings[name], label
    if (info.settings_source or {}).get(name) in ROLE_SPECIFIC:
        return None, _("the server's value, hidden by the checker's role {user}'s own "
                       "setting").format(user=info.user)
    return session, _("the server's value (postgresql.conf or the default)")


@check("DB-007", title="Database settings let imports and migrations write", severity="high",
       rationale="Migrations fail with SQLSTATE 25006 when default_transaction_read_only is on; "
                 "the import fails with 'invalid hex format' when bytea_output is escape; on "
                 "PostgreSQL 15+ the registry user must own the database or hold CREATE on it and "
                 "on schema public, or it gets 'permission denied for schema public' "
                 "(https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_troubleshooting/). The settings judged "
                 "are the registry user's (pg_db_role_setting, https://www.postgresql.org/docs/"
                 "current/catalog-pg-db-role-setting.html: database and role level, from "
                 "config.yml's or gitlab.rb's user), not the checker's session, which may be a "
                 "read-only monitoring role. " + ONE_DB,
       remediation="ALTER DATABASE <db> SET default_transaction_read_only = off (and ALTER ROLE "
                   "<registry user> RESET it); ALTER DATABASE <db> SET bytea_output = 'hex'; "
                   "ALTER DATABASE <db> OWNER TO <registry user> (or GRANT CREATE ON DATABASE "
                   "and ON SCHEMA public to it).",
       doc=TROUBLESHOOTING)
def test_db_007_settings_let_imports_write(ctx: CheckContext) -> str:
    info = sv.db(ctx)
    user, source = _registry_user(ctx, info)
    problems, hidden, used = [], [], []
    for name, good in (("default_transaction_read_only", "off"), ("bytea_output", "hex")):
        value, where = registry_setting(info, name, user)
        used.append(f"{name} {value or '?'} ({where})")
        if value is None:
            hidden.append(f"{name}: {where}")
        elif value != good:
            problems.append(f"{name} is {value} for {user} ({where}; expected {good})")
    rights = f"owned by {user}"
    if info.owner != user:
        if info.creators is not None and user in info.creators:
            rights = (_("owned by {owner}; {user} holds CREATE on the database and on schema "
                        "public").format(owner=info.owner, user=user))
        else:
            problems.append(_("database {dbname} is owned by {owner}, not the registry's user "
                              "{user} ({source})").format(
                                dbname=info.dbname, owner=info.owner, user=user, source=source) + (
                                "" if info.creators is None else
                                _(", and {user} lacks CREATE on it or on schema public").format(
                                    user=user)))
    if problems:
        raise Fail(f"{ctx.site.name}: " + "; ".join(problems), observed="; ".join(problems),
                   expected=f"read-write by default, bytea_output hex, owner {user}")
    if hidden:
        raise Warn(_("{site}: the registry user {user}'s database and role settings are "
                     "right, but {hidden} (postgresql.conf is not visible to the "
                     "checker)").format(site=ctx.site.name, user=user, hidden="; ".join(hidden)),
                   observed="; ".join(used),
                   expected="every level readable")
    return _("for {user} ({source}): {settings}; {rights}").format(
        user=user, source=source, settings="; ".join(used), rights=rights)


MIGRATE_STATUS = "sudo gitlab-ctl registry-database migrate status"


@check("DB-008", title="The registry's schema migrations are applied", severity="high",
       rationale="The import refuses to run with pending migrations ('there are pending database "
                 "migrations', https://gitlab.com/gitlab-org/container-registry/-/blob/master/"
                 "registry/root.go) and the registry will not start in database mode with "
                 "pending pre-deployment migrations (https://gitlab.com/gitlab-org/"
                 "container-registry/-/blob/master/registry/handlers/app.go); `migrate status "
                 "--up-to-date` skips post-deployment migrations, so it is no substitute. The "
                 "registry records each applied id in schema_migrations, the post-deployment "
                 "ones of the split layout in post_deploy_schema_migrations; the ids every "
                 "release ships come from its registry/datastore/migrations/ (https://"
                 "gitlab.com/gitlab-org/container-registry/-/tree/master/registry/datastore/"
                 "migrations), shipped as data with the commit of each release. The release is "
                 "the site's Gitlab-Container-Registry-Version header. Batched background "
                 "migrations still active, running or failed are pending work too. " + ONE_DB,
       remediation="Run sudo gitlab-ctl registry-database migrate up (before 18.7: sudo -u "
                   "registry gitlab-ctl registry-database migrate up) on the registry node, "
                   "post-deployment migrations included; for a failed background migration "
                   "see the registry's logs and retry it before the import or the "
                   "upgrade. Check with sudo gitlab-ctl registry-database migrate status.",
       doc=METADATA_DB_PAGE)
def test_db_008_migrations_applied(ctx: CheckContext) -> str:
    from geopreflight.registry_migrations import TABLES, data, deferred, expected, release

    seen = ctx.fact("db.migrations")
    if not seen.schema_migrations:
        state = "missing" if seen.schema_migrations is None else "empty"
        raise Fail(_("{site}: schema_migrations is {state}: the registry's schema migrations "
                     "have not been applied").format(site=ctx.site.name, state=state),
                   observed=f"schema_migrations {state}",
                   expected="the migrations of the registry's release applied")
    version = sv.api(ctx).version
    if not version:
        raise CannotEvaluate(_("{site}'s registry sends no Gitlab-Container-Registry-Version: "
                               "run {command} on its registry node and check that nothing is "
                               "pending").format(site=ctx.site.name, command=MIGRATE_STATUS))
    want = expected(version)
    if want is None:
        raise CannotEvaluate(_("{site}'s registry {version} is not a release whose migrations "
                               "geopreflight ships (latest known: {known}): run {command} on "
                               "its registry node and check that nothing is pending").format(
                                 site=ctx.site.name, version=version,
                                 known=", ".join(list(data()["versions"])[-3:]),
                                 command=MIGRATE_STATUS))
    applied = {t: set(getattr(seen, t) or ()) for t in TABLES}
    pending = [m for t in TABLES for m in want[t] if m not in applied[t]]
    rel = release(version) or {}
    source = f"registry {version} (commit {str(rel.get('commit', ''))[:12]})"
    if pending:
        post = [m for m in pending if deferred(version, m)]
        pre = [m for m in pending if m not in post]
        said = "; ".join(f"{len(ids)} {kind}-deployment pending (e.g. {ids[0]})"
                         for kind, ids in (("pre", pre), ("post", post)) if ids)
        raise Fail(_("{site}: {said}, against the migrations of {source}").format(
                       site=ctx.site.name, said=said, source=source),
                   observed=said, expected=f"every migration of {source} applied")
    unfinished = seen.background_unfinished or {}
    if unfinished:
        said = ", ".join(f"{n} ({s})" for n, s in list(unfinished.items())[:5])
        raise Fail(_("{site}: batched background migrations not finished: {said}").format(
                       site=ctx.site.name, said=said),
                   observed=said, expected="no active, running or failed background migration")
    counts = ", ".join(f"{len(want[t])} in {t}" for t in TABLES)
    return _("every migration of {source} applied ({counts})").format(source=source,
                                                                       counts=counts)


@check("DB-009", title="No tags in the database before an import", severity="critical",
       rationale="The tag import refuses to run when the tags table has rows ('tags already "
                 "present in database - this may be an imported registry!', https://gitlab.com/"
                 "gitlab-org/container-registry/-/blob/master/registry/datastore/importer.go); a "
                 "missing table counts as empty. " + ONE_DB,
       remediation="Do not import twice: if the site was already imported, continue with the "
                   "next step; otherwise point the registry at an empty, migrated database.",
       doc=METADATA_DB_PAGE)
def test_db_009_no_tags_before_import(ctx: CheckContext) -> str:
    tags = sv.table(ctx, "tags")
    if tags.exists and tags.rows:
        raise Fail(_("{site}: the tags table holds {count} row(s)").format(
                       site=ctx.site.name, count=_count(tags)),
                   observed=f"{_count(tags)} tags", expected="0 tags")
    return _("tags table empty") if tags.exists else _("no tags table yet (counts as empty)")


def _count(t: DbTable) -> str:
    """A capped count says so: `10000+`."""
    return f"{t.rows}{'+' if t.capped else ''}"


@check("DB-010", title="A new registry database holds no repositories or tags", severity="high",
       rationale="A new site's registry must start on an empty metadata database, on a PostgreSQL "
                 "of its own (https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/); a restored dump of another site's "
                 "database passes the system_identifier test but describes the other site's "
                 "storage. " + ONE_DB,
       remediation="Recreate the site's registry database empty (CREATE DATABASE ... OWNER "
                   "registry) and run the migrations; never restore another site's dump.",
       doc=GEO_PAGE)
def test_db_010_new_database_empty(ctx: CheckContext) -> str:
    found = []
    for name in ("repositories", "tags"):
        t = sv.table(ctx, name)
        if t.exists and t.rows:
            found.append(f"{_count(t)} {name}")
    if found:
        raise Fail(_("{site}'s registry database is not empty: {names}").format(
                       site=ctx.site.name, names=', '.join(found)),
                   observed=", ".join(found), expected="no repositories and no tags")
    return _("no repositories, no tags")


@check("DB-011", title="The registry database holds the registry's data", severity="critical",
       rationale="A registry in database mode (database-in-use lockfile) serves only what its "
                 "database holds (https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database/); after moving the database every "
                 "repository and tag must be there, or images disappear (moving the registry "
                 "database like GitLab's own, https://docs.gitlab.com/administration/postgresql/"
                 "moving/, is inferred). Compared with what the storage holds (its repositories "
                 "and _manifests/tags/ directories, https://gitlab.com/gitlab-org/"
                 "container-registry/-/blob/master/registry/storage/paths.go): at least as many "
                 "repositories and tags, per md5(path) bucket and for a named sample; a "
                 "registry with no data has nothing to restore. Images pushed in database mode "
                 "leave no tag links in storage (the database is the registry's only record of "
                 "them), so with the inventory's "
                 "metadata_db.moved_from the moved database is also compared, the same way, "
                 "with the database it was moved from, which must still be readable; without "
                 "it, for those images only a database of repositories without any tag fails.",
       remediation="Restore the registry database's dump into the new PostgreSQL (pg_dump/"
                   "pg_restore with both the public and partitions schemas, every table's "
                   "rows), taken while the registry was read-only, so no push after the dump "
                   "is lost, and point registry['database'] at it. Name the old database as "
                   "metadata_db.moved_from in the inventory until the move is verified: only "
                   "it knows the images pushed in database mode.",
       doc="https://docs.gitlab.com/administration/postgresql/moving/")
def test_db_011_database_holds_registry_data(ctx: CheckContext) -> str:
    from ._content import shortfall

    storage = ctx.fact("storage.content")
    db = ctx.fact("db.content")
    short = shortfall(storage, db)
    said = [short.describe(storage, db)]
    old_short = False
    moved = ctx.site.metadata_db.moved_from if ctx.site.metadata_db else None
    if moved is not None:  # an unreadable old database is an error, never a pass
        old = ctx.fact("db.content_moved_from")
        if old is None:
            said.append(_("the old database at {old} has no repositories or tags table").format(
                old=moved.label))
        else:
            against = shortfall(old, db)
            said.append(against.describe(old, db, old=moved.label))
            old_short = against.short
    if short.short or old_short:
        what, of = ((_("the storage and the old database"), "the storage and of the old database")
                    if short.short and old_short else
                    (_("the storage"), "the storage") if short.short else
                    (_("the old database"), "the old database"))
        raise Fail(_("{site}'s registry database lacks what {what} holds: {said}").format(
                       site=ctx.site.name, what=what, said="; ".join(said)),
                   observed="; ".join(said), expected=f"every repository and tag of {of}")
    if db and db.repositories and not db.tags:
        raise Fail(_("{site}'s registry database holds {count} repositories and no tag: a "
                     "restore without the tags' rows").format(site=ctx.site.name,
                                                              count=db.repositories),
                   observed="; ".join(said), expected="the registry's tags")
    if not storage.repositories and not (db and db.repositories):
        return "; ".join([_("the registry holds no data (storage and database empty): "
                            "nothing to restore"), *said[1:]])
    return "; ".join(said)


@check("DB-012", title="Every site's metadata database is set up", severity="critical",
       scope="deployment",
       rationale="Replication between the registries of a Geo deployment needs each site's "
                 "registry on its own metadata database, reachable and migrated "
                 "(https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/); every site is every Geo site the "
                 "primary lists (GET /geo_sites, https://docs.gitlab.com/api/geo_sites/), so one "
                 "left out of the inventory fails, named. A deployment-wide row, so --site never "
                 "drops it.",
       remediation="Set up the metadata database on every site (its own external PostgreSQL, "
                   "gitlab-ctl registry-database migrate up) before configuring replication.",
       doc=GEO_PAGE, depends_on=("DB-001", "DB-008"))
def test_db_012_every_site_metadata_db_set_up(ctx: CheckContext) -> str:
    left = [_("{name}, a Geo site not in the inventory (its database cannot be read)").format(
                name=name) for name in missing_sites(ctx)]
    for site in ctx.inventory.sites:
        if site.metadata_db is None:
            raise CannotEvaluate(_("the inventory gives no metadata_db for {site}").format(
                                     site=site.name))
        if not all(sv.passes(ctx, cid, site)[0] for cid in ("DB-001", "DB-008")):
            left.append(site.name)
    if left:
        raise Fail(_("the metadata database is not set up on {names}").format(
                       names=', '.join(left)),
                   observed=", ".join(left), expected="every site reachable and migrated")
    return _("every site's metadata database is reachable and migrated")
