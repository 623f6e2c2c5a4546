"""The registry metadata databases, read only.

Every query runs in a read-only transaction (psycopg `read_only`, i.e. `BEGIN READ ONLY`) with
a `statement_timeout` and a `connect_timeout`. The session's own
`default_transaction_read_only` is never touched, so DB-007 reads the server's setting, not
ours. Distinctness needs what PostgreSQL itself says (lab notes, section 1; fact sheet F3):
`system_identifier`, `pg_is_in_recovery()`, the WAL receiver, and a session marker: each
site's connection carries a unique `application_name`, and a marker that shows up in another
site's `pg_stat_activity` proves both sites reach one server.

The timeouts are the inventory's (`connect_s`, `read_s`), and a client-side deadline
(`_Deadline`) ends a connection whose server completed the handshake but never answers.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..inventory import Site
from . import ProbeContext, ProbeError, probe
from .models import DbServer, DbSessions, DbTable, SiteSessions

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
  (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) AS owner
"""

TABLES = ("schema_migrations", "post_deploy_schema_migrations", "repositories", "tags")


def _conn_kwargs(pc: ProbeContext, site: Site, marker: str) -> dict[str, Any]:
    if site.metadata_db is None:
        raise ProbeError(f"the inventory gives no metadata_db for {site.name}, so its "
                         "registry metadata database cannot be checked")
    kw: dict[str, Any] = dict(site.metadata_db.conninfo())
    conninfo = kw.pop("conninfo", "")
    kw.update(conninfo=conninfo, application_name=marker, autocommit=False,
              connect_timeout=max(1, round(pc.inventory.timeouts.connect_s)))
    return kw


def _where(site: Site) -> str:
    """A source string without credentials: the inventory's variable or host/port/dbname."""
    db = site.metadata_db
    if db is None:
        return ""
    if db.dsn is not None:
        return f"postgresql DSN from {db.dsn.source}"
    return f"postgresql://{db.host}:{db.port or 5432}/{db.dbname}"


@contextmanager
def connect(pc: ProbeContext, site: Site, marker: str) -> Iterator[Any]:
    """A read-only connection; every failure is a one-line ProbeError without secrets."""
    import psycopg

    kw = _conn_kwargs(pc, site, marker)
    try:
        conn = psycopg.connect(**kw)
    except psycopg.Error as exc:
        raise ProbeError(f"cannot connect to {site.name}'s registry metadata database "
                         f"({_where(site)}): {_first(exc)}", _where(site)) from None
    read_s = pc.inventory.timeouts.read_s
    watch = _Deadline(conn, read_s + GRACE_S)
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
        raise ProbeError(f"{site.name}'s registry metadata database ({_where(site)}) gave no "
                         f"answer within {read_s + GRACE_S:g} s of connecting (client-side "
                         "deadline: read_s plus a grace; the server holds the query, a lock, "
                         "or never answers)", _where(site))


class _Deadline:
    """A client-side deadline for one connection: `statement_timeout` only helps when the
    server runs the query, so at `after_s` the connection's socket is shut down (through a
    duplicate descriptor: libpq's own state is not touched from this thread), and whatever
    query is waiting fails at once."""

    def __init__(self, conn: Any, after_s: float) -> None:
        import os
        import socket

        self.fired = False
        self._sock = socket.socket(fileno=os.dup(conn.fileno()))
        self._timer = threading.Timer(after_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        import socket

        self.fired = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self) -> None:
        self._timer.cancel()
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
                value = DbServer(**row, tables={t: _table(conn, t) for t in TABLES})
        except psycopg.Error as exc:
            raise ProbeError(f"{site.name}'s registry metadata database: {_first(exc)}",
                             _where(site)) from None
    return value, f"{_where(site)} (read-only transaction)"


@probe("db.sessions", scope="deployment")
def db_sessions(pc: ProbeContext, _site: Site | None) -> tuple[DbSessions, str]:
    """Which sites' marker sessions each site's server shows: a shared server shows both.

    All connections stay open while every server's `pg_stat_activity` is read, so a marker
    is visible exactly where the same PostgreSQL instance serves two sites.
    """
    from contextlib import ExitStack

    import psycopg

    run = uuid.uuid4().hex[:10]
    sites = [s for s in pc.inventory.sites if s.metadata_db is not None]
    markers = {s.name: f"geopreflight-{run}-{i}" for i, s in enumerate(sites)}
    by_marker = {m: name for name, m in markers.items()}
    out: dict[str, SiteSessions] = {}
    with ExitStack() as stack:
        conns = {}
        for s in sites:
            try:
                conns[s.name] = stack.enter_context(connect(pc, s, markers[s.name]))
            except ProbeError as exc:
                out[s.name] = SiteSessions(error=str(exc))
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
