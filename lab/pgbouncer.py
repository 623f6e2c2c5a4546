"""Debian's PgBouncer in front of a site's registry database, as production sites run it.

One pooler per site that asks for it (`db.pooler: pgbouncer`), listening on 127.0.0.1 at
its own port, in transaction pooling (the mode poolers usually run in, where a session's
`application_name` and settings do not follow the client). It runs as the `postgres` user
(PgBouncer refuses root) from a directory under the lab's `pgroot`, with plain-text
passwords in its `auth_file` (the lab's random ones), so it can answer SCRAM on both sides.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from lab import ports, postgres, procs

PROGRAM = "pgbouncer"


def binary() -> str | None:
    """Debian installs it in /usr/sbin, which may be off PATH."""
    found = shutil.which(PROGRAM)
    if found:
        return found
    return "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None


def _ini(workdir: Path, port: int, backend_port: int, dbnames: list[str]) -> str:
    dbs = "\n".join(f"{d} = host=127.0.0.1 port={backend_port} dbname={d}" for d in dbnames)
    return f"""[databases]
{dbs}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {workdir / 'userlist.txt'}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 50
ignore_startup_parameters = extra_float_digits
logfile = {workdir / 'pgbouncer.log'}
pidfile = {workdir / 'pgbouncer.pid'}
"""


def start(name: str, workdir: Path, run_dir: Path, port: int, backend_port: int,
          dbnames: list[str], users: dict[str, str], timeout: float = 10.0) -> int:
    """Write the pooler's config and user list, start it, wait until it listens."""
    exe = binary()
    if exe is None:
        raise FileNotFoundError("pgbouncer not found (apt-get install pgbouncer)")
    workdir.mkdir(parents=True, exist_ok=True)
    postgres.chown_postgres(workdir)
    ini = workdir / "pgbouncer.ini"
    ini.write_text(_ini(workdir, port, backend_port, dbnames))
    userlist = workdir / "userlist.txt"
    userlist.write_text("".join(f'"{u}" "{p}"\n' for u, p in sorted(users.items())))
    for f in (ini, userlist):
        f.chmod(0o600)
        postgres.chown_postgres(f)
    pid = procs.spawn(f"pgbouncer-{name}", ["runuser", "-u", postgres.PG_USER, "--", exe,
                                            str(ini)], run_dir)
    deadline = time.monotonic() + timeout
    while not ports.listening(port):
        if not procs.alive(pid) or time.monotonic() > deadline:
            log = workdir / "pgbouncer.log"
            tail = log.read_text()[-800:] if log.exists() else ""
            raise RuntimeError(f"pgbouncer for {name} did not listen on {port}: {tail}")
        time.sleep(0.02)
    return pid
