"""Production database layouts on the lab's real PostgreSQL: Debian's PgBouncer in front of a
site's registry database, and a read-only monitoring role as the checker's user. The step
must be READY where the deployment is right and the checks must still catch a shared server
behind the pooler."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from lab.model import cluster
from labrun import failing, finding, passing, row, run

pytestmark = pytest.mark.lab


def test_pgbouncer_in_front_of_the_secondary_is_ready(lab):
    """Registry and checker both through PgBouncer: the backend answers with PostgreSQL's own
    port, not the pooler's, and DB-006 accepts the pooler config.yml names."""
    pooled = lab("pgbouncer-secondary")
    db = pooled.site("us-secondary").db
    with psycopg.connect(pooled.environ()["US_SECONDARY_REGISTRY_DB_DSN"]) as conn:
        assert conn.execute("SELECT inet_server_port()").fetchone()[0] == db["direct_port"]
    s = run(pooled)
    assert s["verdict"] == "READY", failing(s)
    r = passing(s, "DB-006", "us-secondary")
    assert f":{db['port']}/registry" in r["message"] and "pooler" in r["message"]
    assert row(s, "DB-003", "us-secondary")["outcome"] == "pass"


def test_registry_through_pgbouncer_checker_direct_is_ready(lab):
    """The checker goes straight to PostgreSQL while config.yml names the pooler: the probe
    follows config.yml's route and finds the same server there."""
    s = run(lab("pgbouncer-registry-only"))
    assert s["verdict"] == "READY", failing(s)
    r = passing(s, "DB-006", "us-secondary")
    assert "leads to the database the inventory reaches" in r["message"]
    assert "system_identifier" in r["message"]


def test_shared_server_behind_pgbouncer_still_fails(lab):
    s = run(lab("pgbouncer-shared-db"))
    assert s["verdict"] == "NOT_READY"
    r = finding(s, "DB-003", "us-secondary", "fail")
    assert "same PostgreSQL instance" in r["message"]
    assert "postmaster started at" in r["message"]  # not the marker alone


def test_monitoring_role_is_ready_and_judges_the_registry_role(lab):
    """A monitoring role that is read-only by default (ALTER ROLE ... SET
    default_transaction_read_only = on) is the checker's, not the registry's: READY, and
    DB-007 says which value it could not see instead of failing a correct deployment."""
    mon = lab("monitoring-role")
    s = run(mon)
    assert s["verdict"] == "READY", failing(s)
    r = row(s, "DB-007", "us-secondary")
    assert r["outcome"] == "warn", r
    assert "registry" in r["message"] and "hidden by the checker's role" in r["message"]
    assert mon.site("us-secondary").db["monitor"]["user"] in r["message"]
    assert row(s, "DB-008", "us-secondary")["outcome"] == "pass"  # tables readable


def test_registry_role_setting_is_seen_through_a_monitoring_role(fresh_lab):
    """`ALTER ROLE registry SET default_transaction_read_only = on` breaks the registry's
    migrations; the monitoring role's session never shows it, pg_db_role_setting does."""
    mon = fresh_lab("monitoring-role")
    model = mon.model
    cl = cluster(next(c for c in model["clusters"] if c["name"] == "us-secondary"),
                 Path(model["pg_root"]))
    with psycopg.connect(cl.conninfo(), autocommit=True) as conn:  # as a DBA, the superuser
        conn.execute("ALTER ROLE registry SET default_transaction_read_only = on")
    s = run(mon)
    r = finding(s, "DB-007", "us-secondary", "fail")
    assert "ALTER ROLE registry SET" in r["message"]
