"""The lab's registry metadata databases are real, separate (or deliberately not) clusters."""

from __future__ import annotations

import psycopg
import pytest
import yaml

from lab import hostroot

pytestmark = pytest.mark.lab

IDENTITY = ("SELECT (SELECT system_identifier FROM pg_control_system()), pg_is_in_recovery(), "
            "current_database(), current_user, inet_server_port(), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
TABLES = {"schema_migrations", "post_deploy_schema_migrations", "repositories", "manifests",
          "tags", "blobs"}


def identity(dsn: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        return conn.execute(IDENTITY).fetchone()


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_external_clusters_are_distinct(lab):
    d = lab("legacy-both")
    p, s = identity(d.primary.dsn), identity(d.secondary.dsn)
    assert p[0] != s[0], "two clusters, two system_identifiers"
    for row in (p, s):
        assert row[1] is False and row[2] == "registry" and row[3] == "registry"
        assert row[5] is False, "the registry role is not a superuser"
    assert p[4] != s[4]


def test_registry_role_owns_a_migrated_schema(lab):
    d = lab("legacy-both")
    for site in d.sites:
        assert TABLES <= tables(site.dsn)
        with psycopg.connect(site.dsn) as conn:
            owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                 "WHERE datname = current_database()").fetchone()[0]
            assert owner == "registry"
            assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 3
            assert conn.execute("SELECT count(*) FROM post_deploy_schema_migrations"
                                ).fetchone()[0] >= 1
            assert conn.execute("SELECT count(*) FROM tags").fetchone()[0] == 0, "legacy: empty"


def test_replica_placement_is_a_streaming_replica(lab):
    d = lab("replica-db")
    p, s = identity(d.primary.dsn), identity(d.secondary.dsn)
    assert p[0] == s[0], "a physical replica keeps the primary's system_identifier"
    assert p[1] is False and s[1] is True
    with psycopg.connect(d.secondary.dsn) as conn:
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE t (x int)")
    with psycopg.connect(d.primary.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()[0] == 1
    cfg = hostroot.read_config(d.secondary.root)
    assert cfg["database"]["port"] == s[4]


def test_shared_placement_is_one_cluster_two_databases(lab):
    d = lab("shared-db")
    p, s = identity(d.primary.dsn), identity(d.secondary.dsn)
    assert p[0] == s[0] and p[4] == s[4], "same cluster"
    assert p[1] is s[1] is False
    assert p[2] != s[2], "two databases"
    assert TABLES <= tables(d.secondary.dsn)


def test_bundled_placement_is_what_the_host_files_say(lab):
    d = lab("bundled-db")
    for site in d.sites:
        cfg = hostroot.read_config(site.root)
        assert cfg["database"]["host"] == "/var/opt/gitlab/postgresql"
        rb = (site.root / hostroot.GITLAB_RB).read_text()
        assert "postgresql['enable'] = true" in rb
        assert f"postgresql['port'] = {cfg['database']['port']}" in rb
        assert "'host'" not in rb.split("registry['database']")[1].split("}")[0]
        assert identity(site.dsn)[4] == cfg["database"]["port"], "the DSN reaches that cluster"
        assert (site.root / hostroot.PG_DIR / "data" / "PG_VERSION").exists()
        with psycopg.connect(site.dsn) as conn:
            dbs = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        assert {"registry", "gitlabhq_production"} <= dbs
    a, b = (identity(s.dsn)[0] for s in d.sites)
    assert a != b


def test_unmigrated_database_has_no_schema(lab):
    d = lab("new-instance")
    for site in d.sites:
        assert tables(site.dsn) == set()
        assert identity(site.dsn)[3] == "registry"
    assert yaml.safe_load((d.primary.root / hostroot.CONFIG_YML).read_text())["database"][
        "enabled"] is False
