"""The registry's applied schema migrations and its batched background migrations, read only.

The registry records each applied migration's id in `schema_migrations` and, since the
split into pre- and post-deployment migrations, the post-deployment ones in
`post_deploy_schema_migrations`; background migrations keep a status per row in
`batched_background_migrations` (0 paused, 1 active, 2 finished, 3 failed, 4 running:
https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/datastore/models/
models.go). DB-008 compares the ids with the release the site runs.
"""

from __future__ import annotations

import uuid

from ..inventory import Site
from ..registry_migrations import TABLES
from . import ProbeContext, ProbeError, probe
from .models import DbMigrations

ID_CAP = 5000  # a release ships a few hundred
UNFINISHED = {1: "active", 3: "failed", 4: "running"}


@probe("db.migrations")
def db_migrations(pc: ProbeContext, site: Site | None) -> tuple[DbMigrations, str]:
    import psycopg

    from .database import _first, _where, connect

    assert site is not None
    out: dict[str, list[str] | None] = {}
    bbm: dict[str, str] | None = None
    with connect(pc, site, f"geopreflight-{uuid.uuid4().hex[:12]}") as conn:
        try:
            with conn.transaction():
                for table in (*TABLES, "batched_background_migrations"):
                    there = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                         (table,)).fetchone()[0]
                    if table != "batched_background_migrations":
                        out[table] = [r[0] for r in conn.execute(
                            f"SELECT id FROM {table} ORDER BY id LIMIT {ID_CAP}")] \
                            if there else None
                    elif there:
                        bbm = {name: UNFINISHED[status] for name, status in conn.execute(
                            "SELECT name, status FROM batched_background_migrations WHERE "
                            "status IN (1, 3, 4) ORDER BY id LIMIT 50")}
        except psycopg.Error as exc:
            raise ProbeError(f"{site.name}'s registry metadata database: {_first(exc)}",
                             _where(site)) from None
    return (DbMigrations(out[TABLES[0]], out[TABLES[1]], bbm),
            f"{_where(site)} {', '.join(TABLES)}, batched_background_migrations "
            "(read-only transaction)")
