"""The registry metadata databases, read only.

Every query runs in a read-only transaction (psycopg `read_only`, i.e. `BEGIN READ ONLY`) with
a `statement_timeout` and a `connect_timeout`. The session's own
`default_transaction_read_only` is never touched, so DB-007 reads the server's setting, not
ours. Distinctness needs what PostgreSQL itself says (https://www.postgresql.org/docs/current/
functions-info.html, and how GitLab's own Geo health check reads a standby,
https://gitlab.com/gitlab-org/gitlab/-/blob/master/ee/lib/gitlab/geo/health_check.rb):
`system_identifier`, `pg_is_in_recovery()`, the WAL receiver, and a session marker: each
site's connection carries a unique `application_name`, and a marker that shows up in another
site's `pg_stat_activity` proves both sites reach one server.

A pooler (PgBouncer) in front of the server keeps neither the marker nor the port: the
marker is one signal among several (the postmaster's start time, the data directory and the
server address survive it), and `db.registry_route` follows config.yml's own host and port
to tell whether a pooler there leads to the database the inventory reaches. The settings
DB-007 judges are the registry role's (`pg_db_role_setting`), not the checker's session's,
since the checker may be a read-only monitoring role.

The timeouts are the inventory's (`connect_s`, `read_s`), and a client-side deadline
(`_Deadline`) ends a connection whose server completed the handshake but never answers.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from ..cancel import Stops
from ..failures import Kind, ProbeFailure
from ..inventory import Site
from . import ProbeContext, ProbeError, probe
from .dns import resolve
from .models import (
    DbRoute,
    DbServer,
    DbSessions,
    DbTable,
    ImportRun,
    ImportStatistics,
    RoleSetting,
    SiteSessions,
)

GRACE_S = 0.5  # the client-side deadline is the statement timeout plus this
ROW_CAP = 10000  # counts stop here: never walk a large table

SERVER_SQL = """SELECT
  (SELECT system_identifier FROM pg_control_system())::text AS system_identifier,
  pg_is_in_recovery() AS in_recovery,
  (SELECT count(*) FROM pg_stat_wal_receiver) AS wal_receivers,
  (SELECT count(*) FROM pg_stat_replication) AS downstream,
  current_setting('server_version_num')::int AS version_num,
  current_setting('server_version') AS version,
  current_database() AS dbname,
  current_user AS user,
  inet_server_addr()::text AS server_addr,
  inet_server_port() AS server_port,
  pg_postmaster_start_time()::text AS started_at,
  current_setting('default_transaction_read_only') AS default_transaction_read_only,
  current_setting('bytea_output') AS bytea_output,
  (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) AS owner,
  (SELECT setting FROM pg_settings WHERE name = 'data_directory') AS data_directory,
  (SELECT json_object_agg(name, source) FROM pg_settings
    WHERE name IN ('default_transaction_read_only', 'bytea_output')) AS settings_source
"""
JUDGED = ("default_transaction_read_only", "bytea_output")  # the settings DB-007 reads
ROLE_SETTINGS_SQL = """SELECT COALESCE(r.rolname, '') AS role, s.setdatabase <> 0 AS database,
  s.setconfig FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
  WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
  ORDER BY 1, 2 LIMIT 200"""
CREATORS_SQL = """SELECT rolname FROM pg_roles WHERE rolcanlogin
  AND has_database_privilege(oid, current_database(), 'CREATE')
  AND has_schema_privilege(oid, 'public', 'CREATE') ORDER BY 1 LIMIT 200"""
IDENTITY_SQL = """SELECT (SELECT system_identifier FROM pg_control_system())::text,
  current_database(), pg_postmaster_start_time()::text, inet_server_addr()::text,
  inet_server_port()"""

TABLES = ("schema_migrations", "post_deploy_schema_migrations", "repositories", "tags")


def _conn_kwargs(pc: ProbeContext, site: Site, marker: str) -> dict[str, Any]:
    if site.metadata_db is None:
        why = (f"the inventory gives no metadata_db for {site.name}, so its registry "
               "metadata database cannot be checked")
        raise ProbeError(why, failure=ProbeFailure(Kind.MISSING, why))
    kw: dict[str, Any] = dict(site.metadata_db.conninfo())
    conninfo = kw.pop("conninfo", "")
    kw.update(conninfo=conninfo, application_name=marker, autocommit=False,
              connect_timeout=max(1, round(pc.inventory.timeouts.connect_s)),
              prepare_threshold=None)  # never prepare: a transaction pooler loses them
    return kw


def _where(site: Site) -> str:
    """A source string without credentials: the inventory's variable or host/port/dbname."""
    return site.metadata_db.label if site.metadata_db is not None else ""


def _addressed(site: Site, kw: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """`hostaddr` for a single host name, resolved within the connect timeout: psycopg calls
    getaddrinfo itself, with no timeout, so a hung resolver would hold the run. The name
    stays in `host` (libpq verifies the certificate against it) and every address is tried.
    """
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(kw.get("conninfo", ""), **{k: v for k, v in kw.items()
                                                          if k in ("host", "hostaddr")})
    host = str(params.get("host") or "")
    if not host or params.get("hostaddr") or "," in host or host.startswith("/"):
        return {}
    try:
        ipaddress.ip_address(host)
        return {}
    except ValueError:
        pass
    found = resolve(host, timeout_s)
    if found.error:
        why = (f"cannot connect to {site.name}'s registry metadata database "
               f"({_where(site)}): {found.error}")
        raise ProbeError(why, _where(site), ProbeFailure(Kind.DNS, why, _where(site)))
    return {"host": ",".join([host] * len(found.addresses)),
            "hostaddr": ",".join(found.addresses)}


@contextmanager
def connect(pc: ProbeContext, site: Site, marker: str,
            route: dict[str, Any] | None = None) -> Iterator[Any]:
    """A read-only connection; every failure is a one-line ProbeError without secrets.
    `route` (host, port, dbname) replaces the inventory's, keeping its credentials."""
    import psycopg

    kw = {**_conn_kwargs(pc, site, marker), **(route or {})}
    kw.update(_addressed(site, kw, pc.inventory.timeouts.connect_s))
    try:
        conn = psycopg.connect(**kw)
    except psycopg.Error as exc:
        why = (f"cannot connect to {site.name}'s registry metadata database "
               f"({_where(site)}): {_first(exc)}")
        # refused, timed out, or not let in: the reports ask to make the database reachable
        raise ProbeError(why, _where(site),
                         ProbeFailure(Kind.REFUSED, why, _where(site))) from None
    read_s = pc.inventory.timeouts.read_s
    watch = _Deadline(conn, read_s + GRACE_S, pc.http.stops)
    try:
        conn.read_only = True
        conn.execute(f"SET statement_timeout = {max(1, round(read_s * 1000))}")
        conn.commit()
        yield conn
    except (ProbeError, psycopg.Error) as exc:
        if watch.fired:
            pass  # the deadline's error below says more than "connection closed"
        elif isinstance(exc, ProbeError):
            raise
        else:
            raise ProbeError(f"{site.name}'s registry metadata database: {_first(exc)}",
                             _where(site)) from None
    finally:
        watch.cancel()
        broken = conn.broken
        conn.close()
    if broken and not watch.fired:
        raise ProbeError(f"{site.name}'s registry metadata database ({_where(site)}) closed "
                         "the connection during the probe (server stopped or restarted?)",
                         _where(site))
    if watch.fired:
        why = (f"{site.name}'s registry metadata database ({_where(site)}) gave no answer "
               f"within {read_s + GRACE_S:g} s of connecting (client-side deadline: read_s "
               "plus a grace; the server holds the query, a lock, or never answers)")
        raise ProbeError(why, _where(site), ProbeFailure(Kind.TIMEOUT, why, _where(site)))


class _Deadline:
    """A client-side deadline for one connection: `statement_timeout` only helps when the
    server runs the query, so at `after_s` (or on Ctrl-C, through `stops`) the connection's
    socket is shut down (through a duplicate descriptor: libpq's own state is not touched
    from this thread), and whatever query is waiting fails at once."""

    def __init__(self, conn: Any, after_s: float, stops: Stops) -> None:
        import os
        import socket

        self.fired = False
        self._sock = socket.socket(fileno=os.dup(conn.fileno()))
        self._timer = threading.Timer(after_s, self._fire)
        self._timer.daemon = True
        self._timer.start()
        self._stops = stops
        self._token = stops.add(self._fire)

    def _fire(self) -> None:
        import socket

        self.fired = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self) -> None:
        self._timer.cancel()
        self._stops.remove(self._token)
        self._sock.close()


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _table(conn: Any, table: str) -> DbTable:
    """Presence and a capped row count of one table, in a savepoint (permission errors)."""
    import psycopg

    try:
        with conn.transaction():
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
            if not exists:
                return DbTable(False, rows=0)
            rows = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {ROW_CAP})"
                                " AS t").fetchone()[0]
            return DbTable(True, rows=rows, capped=rows >= ROW_CAP)
    except psycopg.Error as exc:
        return DbTable(None, error=_first(exc))


def _role_settings(conn: Any) -> list[RoleSetting] | None:
    """The database- and role-level settings of the judged keys (None: unreadable)."""
    import psycopg

    try:
        with conn.transaction():
            rows = conn.execute(ROLE_SETTINGS_SQL).fetchall()
    except psycopg.Error:
        return None
    out = []
    for role, database, config in rows:
        pairs = dict(str(c).partition("=")[::2] for c in (config or []))
        kept = {k: v for k, v in pairs.items() if k in JUDGED}
        if kept:
            out.append(RoleSetting(role, bool(database), kept))
    return out


def _creators(conn: Any) -> list[str] | None:
    """Login roles that may create schemas and tables (None: no public schema, unreadable)."""
    import psycopg

    try:
        with conn.transaction():
            return [r[0] for r in conn.execute(CREATORS_SQL).fetchall()]
    except psycopg.Error:
        return None


@probe("db.server")
def db_server(pc: ProbeContext, site: Site | None) -> tuple[DbServer, str]:
    """Identity, role in replication, version, settings and the registry tables."""
    import psycopg

    assert site is not None
    with connect(pc, site, f"geopreflight-{uuid.uuid4().hex[:12]}") as conn:
        try:
            with conn.transaction():
                cur = conn.execute(SERVER_SQL)
                names = [d.name for d in cur.description]
                row = dict(zip(names, cur.fetchone(), strict=True))
            value = DbServer(**row, tables={t: _table(conn, t) for t in TABLES},
                             role_settings=_role_settings(conn), creators=_creators(conn))
        except psycopg.Error as exc:
            raise ProbeError(f"{site.name}'s registry metadata database: {_first(exc)}",
                             _where(site)) from None
    return value, f"{_where(site)} (read-only transaction)"


def _opened(cm: AbstractContextManager[Any]) -> tuple[Any, Any]:
    """Enter a connection's context in a worker thread; the caller's stack exits it."""
    return cm, cm.__enter__()


@probe("db.sessions", scope="deployment")
def db_sessions(pc: ProbeContext, _site: Site | None) -> tuple[DbSessions, str]:
    """Which sites' marker sessions each site's server shows: a shared server shows both.

    All connections stay open while every server's `pg_stat_activity` is read, so a marker
    is visible exactly where the same PostgreSQL instance serves two sites.
    """
    import psycopg

    run = uuid.uuid4().hex[:10]
    sites = [s for s in pc.inventory.sites if s.metadata_db is not None]
    markers = {s.name: f"geopreflight-{run}-{i}" for i, s in enumerate(sites)}
    by_marker = {m: name for name, m in markers.items()}
    out: dict[str, SiteSessions] = {}
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=max(1, len(sites)),
                                                  thread_name_prefix="db-sessions") as pool:
        # every site connects at once: N silent servers cost one connect_s, not N
        opening = {s.name: pool.submit(_opened, connect(pc, s, markers[s.name])) for s in sites}
        conns = {}
        for name, future in opening.items():
            try:
                cm, conns[name] = future.result()
            except ProbeError as exc:
                out[name] = SiteSessions(error=str(exc))
            else:
                stack.push(cm)
        for name, conn in conns.items():
            try:
                with conn.transaction():
                    rows = conn.execute(
                        "SELECT application_name FROM pg_stat_activity WHERE application_name "
                        "LIKE %s", (f"geopreflight-{run}-%",)).fetchall()
                seen = sorted(by_marker[r[0]] for r in rows if r[0] in by_marker)
                out[name] = SiteSessions(sees=[n for n in seen if n != name])
            except psycopg.Error as exc:
                out[name] = SiteSessions(error=f"{name}: {_first(exc)}")
    return DbSessions(out), "pg_stat_activity of every site's registry metadata database"


def _inventory_endpoints(pc: ProbeContext, site: Site) -> tuple[list[tuple[str, int]],
                                                                 str | None]:
    """Every (host, port) the inventory names, a multi-host DSN's (`host=a,b port=1,2`, or
    one port for all) included, and its dbname; no secrets. Only TCP hosts are listed."""
    from psycopg.conninfo import conninfo_to_dict

    kw = _conn_kwargs(pc, site, "")
    parsed: dict[str, Any] = conninfo_to_dict(kw.pop("conninfo", "") or "")
    parsed.update({k: v for k, v in kw.items() if k in ("host", "port", "dbname") and v})
    hosts = str(parsed.get("host") or "").split(",")
    ports = [int(p) if p.strip() else 5432 for p in str(parsed.get("port") or "").split(",")]
    ports = ports * len(hosts) if len(ports) == 1 else ports
    return ([(h, p) for h, p in zip(hosts, ports, strict=False) if h and not h.startswith("/")],
            parsed.get("dbname"))


def _own_addresses(pc: ProbeContext, host: str, named: list[str]) -> tuple[list[str], str]:
    """The addresses of `host` that are addresses of a host the inventory names (the route
    may go there), or none and why not."""
    timeout_s = pc.inventory.timeouts.connect_s
    found = resolve(host, timeout_s)
    if found.error:
        return [], f"not followed: {found.error}"
    own = {a for name in named for a in resolve(name, timeout_s).addresses}
    pinned = [a for a in found.addresses if a in own]
    if pinned:
        return pinned, ""
    return [], (f"not followed: {host} is not a host the inventory's metadata_db names (no "
                "shared address), and the inventory's password is sent to no other host; "
                "point metadata_db at config.yml's host to check through it")


# Off the inventory's own route, the password is never sent: SCRAM proves it without
# sending it (libpq refuses a server that asks for it in clear text or as MD5), or the
# server asks for nothing.
ROUTE_AUTH = "scram-sha-256,none"


@probe("db.registry_route")
def db_registry_route(pc: ProbeContext, site: Site | None) -> tuple[DbRoute, str]:
    """Follow config.yml's database host, port and dbname with the inventory's credentials
    and record the server's own identity there, so DB-006 can accept a pooler in front of
    the database the inventory reaches (or the inventory reaching through one). Read on the
    site's registry node (`site.host`): DB-006 first fails any other registry node whose
    config.yml names another database, so one route stands for all.

    config.yml is the deployment's word, not the operator's: the route is followed only to
    an address of a host the inventory's metadata_db names (pinned with `hostaddr`, so a
    later DNS answer cannot move it) and only with SCRAM (`ROUTE_AUTH`), so a server there
    that asks for the password in clear text gets nothing."""
    import psycopg

    from .host import CONFIG_YML, _config_yml, host_files

    assert site is not None
    if site.host is None:
        raise ProbeError(f"the inventory gives no host for {site.name}, so its config.yml "
                         "cannot be read")
    config = _config_yml(host_files(pc, site))
    cfg = (config.get("database") or {}) if not config.get("error") else {}
    host, dbname = cfg.get("host"), cfg.get("dbname")
    try:
        port = int(cfg.get("port") or 5432)
    except (TypeError, ValueError):
        return (DbRoute(str(host) if host else None, None, dbname,
                        error=f"{CONFIG_YML} database.port is not a number"),
                f"{CONFIG_YML} database.port")
    where = f"{CONFIG_YML} database host {host}:{port}/{dbname}"
    if not host or str(host).startswith("/"):
        return DbRoute(None, port, dbname), f"{CONFIG_YML} database.host (not TCP)"
    named, inventory_db = _inventory_endpoints(pc, site)
    if (str(host), port) in named and dbname == inventory_db:
        return DbRoute(str(host), port, dbname, same_as_inventory=True), where
    pinned, why = _own_addresses(pc, str(host), [h for h, _ in named])
    if not pinned:
        return DbRoute(str(host), port, dbname, error=why), where
    route = {"host": ",".join([str(host)] * len(pinned)), "hostaddr": ",".join(pinned),
             "port": port, "require_auth": ROUTE_AUTH, **({"dbname": dbname} if dbname else {})}
    try:
        with connect(pc, site, f"geopreflight-{uuid.uuid4().hex[:12]}", route) as conn:
            with conn.transaction():
                sysid, reached, started, addr, sport = conn.execute(IDENTITY_SQL).fetchone()
    except (ProbeError, psycopg.Error) as exc:
        return DbRoute(str(host), port, dbname, error=_first(exc)), where
    return DbRoute(str(host), port, dbname, system_identifier=sysid, reached_dbname=reached,
                   started_at=started, server_addr=addr, server_port=sport), where


# `import_statistics` (container-registry, 2025): one row per import command, written when it
# ends, with each phase's start, finish and error and the counts imported; the same keys as the
# `import[]` entries of `GET /gitlab/v1/statistics/` (https://gitlab.com/gitlab-org/
# container-registry/-/blob/master/docs/spec/gitlab/api.md, "Statistics", change of
# 2025-07-14). That the table's columns carry exactly those names is UNVERIFIED (inferred from
# the API's keys), so only the columns the table really has are read. The example there has
# `created_at` after `finished_at`: the row appears when the command ends (an INFERENCE), so
# while an import runs, its progress shows only in the rows it writes (`db.content`).
RUN_COLUMNS = tuple(f.name for f in dataclasses.fields(ImportRun))
RUNS_CAP = 20  # newest import runs kept


def _runs(conn: Any) -> tuple[bool, list[ImportRun]]:
    import psycopg

    with conn.transaction():
        have = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = 'import_statistics'").fetchall()}
    if "id" not in have:
        return False, []
    cols = [c for c in RUN_COLUMNS if c in have]
    query = psycopg.sql.SQL("SELECT {} FROM import_statistics ORDER BY id DESC LIMIT {}").format(
        psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(c) for c in cols),
        psycopg.sql.Literal(RUNS_CAP))
    with conn.transaction():
        rows = conn.execute(query).fetchall()
    out = []
    for row in rows:
        values = {c: (v.isoformat() if hasattr(v, "isoformat") else v)
                  for c, v in zip(cols, row, strict=True)}
        out.append(ImportRun(**{k: v for k, v in values.items() if v is not None}))
    return True, out


@probe("db.import_statistics")
def db_import_statistics(pc: ProbeContext, site: Site | None) -> tuple[ImportStatistics, str]:
    """The site's finished (and failed) import runs: what the estimate calibrates on and what
    `--watch` sees an import end by (bounded: the newest RUNS_CAP rows)."""
    import psycopg

    assert site is not None
    with connect(pc, site, f"geopreflight-{uuid.uuid4().hex[:12]}") as conn:
        try:
            present, runs = _runs(conn)
        except psycopg.Error as exc:
            raise ProbeError(f"{site.name}'s registry metadata database: {_first(exc)}",
                             _where(site)) from None
    return (ImportStatistics(present, runs),
            f"{_where(site)}: import_statistics, newest {RUNS_CAP} (read-only transaction)")
