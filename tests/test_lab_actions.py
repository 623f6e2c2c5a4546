"""The lab's operator actions change the sites' real state as GitLab's commands do, and
refuse where GitLab refuses (lab/actions.py; fact sheet A, B, F)."""

from __future__ import annotations

import psycopg
import pytest
import requests
import yaml

from lab import hostroot, model, scenario

pytestmark = pytest.mark.lab
SEC, PRI = "us-secondary", "eu-primary"


def rows(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def count(dsn: str, table: str) -> int:
    return rows(dsn, f"SELECT count(*) FROM {table}")[0][0]


def cfg(site) -> dict:
    return hostroot.read_config(site.root)


def readonly(site) -> bool:
    return bool(((cfg(site)["storage"].get("maintenance") or {}).get("readonly") or {})
                .get("enabled"))


def test_three_step_import_leaves_what_each_step_leaves(fresh_lab):
    d = fresh_lab("legacy-both")
    sec = d.secondary
    d.act(f"set-read-only --site {SEC} off")
    d.import_(SEC, step="one")  # read-write is fine for the pre-import
    assert count(sec.dsn, "manifests") == 3 and count(sec.dsn, "tags") == 0
    assert hostroot.lockfiles(sec.root) == ["filesystem-in-use"]
    with pytest.raises(model.LabError, match="read-only mode"):
        d.import_(SEC, step="two")
    with pytest.raises(model.LabError, match="step-three"):
        d.import_(SEC, step="three")
    d.act(f"set-read-only --site {SEC} on")
    d.import_(SEC, step="two")
    assert count(sec.dsn, "tags") == 3
    assert hostroot.lockfiles(sec.root) == ["database-in-use"]
    with pytest.raises(model.LabError, match="step-three"):  # enabled still false
        d.import_(SEC, step="three")
    d.finish_import(SEC)
    d.import_(SEC, step="three")
    assert hostroot.lockfiles(sec.root) == ["database-in-use"]
    stats = rows(sec.dsn, "SELECT pre_import, tag_import, blob_import, finished_at IS NOT NULL "
                          "FROM import_statistics ORDER BY id")
    assert stats == [(True, False, False, True), (False, True, False, True),
                     (False, False, True, True)]


def test_an_interrupted_import_keeps_its_rows_and_the_filesystem_lockfile(lab):
    d = lab("secondary-interrupted-import")
    sec = d.secondary
    assert 0 < count(sec.dsn, "tags") < 3
    assert hostroot.lockfiles(sec.root) == ["filesystem-in-use"]
    assert rows(sec.dsn, "SELECT finished_at FROM import_statistics") == [(None,)]
    with pytest.raises(model.LabError, match="tags already present"):
        d.import_(SEC)


def test_set_read_only_is_the_registry_refusing_pushes(fresh_lab):
    d = fresh_lab("not-read-only")
    sec = d.secondary
    d.act(f"set-read-only --site {SEC} on")
    assert readonly(sec) and "'readonly' => {" in (sec.root / hostroot.GITLAB_RB).read_text()
    with pytest.raises(model.LabError, match="405"):
        d.push(SEC, "group/project/app:ro")
    d.act(f"set-read-only --site {SEC} off")
    assert not readonly(sec)
    d.push(SEC, "group/project/app:rw")


def test_enable_registry_starts_an_empty_legacy_registry(fresh_lab):
    d = fresh_lab("add-registry-to-geo")
    assert hostroot.read_config(d.secondary.root) is None
    d.act(f"enable-registry --site {SEC}")
    sec = d.secondary
    assert cfg(sec)["database"]["enabled"] is False
    assert "registry['enable'] = true" in (sec.root / hostroot.GITLAB_RB).read_text()
    assert requests.get(f"{sec.registry_url}/v2/", timeout=5).status_code == 401
    assert hostroot.lockfiles(sec.root) == []
    with pytest.raises(model.LabError, match="already enabled"):
        d.act(f"enable-registry --site {SEC}")


def test_setup_metadata_db_migrates_and_enables_the_database(fresh_lab):
    d = fresh_lab("new-instance")
    sec = d.secondary
    with pytest.raises(psycopg.Error):
        count(sec.dsn, "schema_migrations")
    d.act(f"setup-metadata-db --site {SEC}")
    assert count(sec.dsn, "schema_migrations") > 0
    assert cfg(sec)["database"]["enabled"] is True
    assert hostroot.lockfiles(sec.root) == ["database-in-use"]
    d.push(SEC, "group/project/app:v1")  # database mode: the push writes its rows
    assert count(sec.dsn, "tags") == 1


def test_setup_metadata_db_refuses_a_registry_with_legacy_data(lab):
    d = lab("legacy-both")
    with pytest.raises(model.LabError, match="please import data"):
        d.act(f"setup-metadata-db --site {SEC}")


def test_setup_geo_then_configure_replication(fresh_lab):
    d = fresh_lab("new-instance")
    d.act("setup-geo")
    pri, sec = d.primary, d.secondary
    assert "roles ['geo_secondary_role']" in (sec.root / hostroot.GITLAB_RB).read_text()
    assert [s["name"] for s in d.api(PRI, "geo_sites")] == [PRI, SEC]
    assert "notifications" not in cfg(pri)  # Geo alone configures no geo_event endpoint
    rb = (sec.root / hostroot.GITLAB_RB).read_text()
    assert "geo_registry_replication_enabled'] = false" in rb
    with pytest.raises(model.LabError, match="already set up"):
        d.act("setup-geo")
    d.act("configure-replication")
    assert [e["name"] for e in cfg(pri)["notifications"]["endpoints"]] == ["geo_event"]
    rb = (sec.root / hostroot.GITLAB_RB).read_text()
    assert "geo_registry_replication_enabled'] = true" in rb
    assert "geo_registry_replication_primary_api_url" in rb
    status = next(s for s in d.api(PRI, "geo_sites/status") if s["geo_node_id"] == 2)
    assert status["container_repositories_replication_enabled"] is True


def test_configure_replication_needs_geo(lab):
    d = lab("new-instance")
    with pytest.raises(model.LabError, match="set up Geo first"):
        d.act("configure-replication")


@pytest.mark.parametrize("half", [False, True])
def test_move_db_points_the_registry_at_a_new_external_database(fresh_lab, half):
    d = fresh_lab("add-geo-default-db")
    before = d.primary
    d.act(f"move-db --site {PRI}" + (" --half" if half else ""))
    pri = d.primary
    db = cfg(pri)["database"]
    assert (db["host"], db["port"]) == ("127.0.0.1", pri.db["port"]) != before.db["port"]
    assert not db["host"].startswith("/")
    assert "postgresql['enable'] = true" in (pri.root / hostroot.GITLAB_RB).read_text()
    assert count(pri.dsn, "manifests") == 2
    assert count(pri.dsn, "tags") == (0 if half else 2)
    assert d.env["EU_PRIMARY_REGISTRY_DB_DSN"] == pri.dsn  # the inventory follows
    old = yaml.safe_load(d.inventory.read_text())["sites"][0]["metadata_db"]["moved_from"]
    assert old == {"host": "127.0.0.1", "port": before.db["port"], "dbname": "registry",
                   "user": "registry", "password_env": "EU_PRIMARY_OLD_REGISTRY_DB_PASSWORD"}
    old_dsn = (f"postgresql://registry:{d.env[old['password_env']]}@127.0.0.1:{old['port']}"
               "/registry")
    assert count(old_dsn, "tags") == 2  # the old database keeps what it held
    with pytest.raises(model.LabError, match="not on the bundled"):
        d.act(f"move-db --site {PRI}")


def test_a_lab_with_seven_secondaries_lists_them_all(lab):
    d = lab("seven-secondaries-legacy")
    inv = yaml.safe_load(d.inventory.read_text())
    assert [s["role"] for s in inv["sites"]].count("secondary") == 7
    statuses = d.api(PRI, "geo_sites/status")
    assert len(statuses) == 8
    assert all(s["container_repositories_synced_count"] == 2 for s in statuses
               if s["geo_node_id"] != 1)


def test_scenarios_refuse_more_than_seven_secondaries_and_unknown_actions(tmp_path):
    base = scenario.load("seven-secondaries-legacy")
    sites = base["sites"] + [{**base["sites"][1], "name": "xx-secondary"}]
    f = tmp_path / "eight.yml"
    f.write_text(yaml.safe_dump({"sites": sites}))
    with pytest.raises(scenario.ScenarioError, match="at most 7 secondaries"):
        scenario.load(str(f))
    f.write_text(yaml.safe_dump({"extends": "legacy-both", "then": ["explode --site x"]}))
    with pytest.raises(scenario.ScenarioError, match="not one of the lab's actions"):
        scenario.load(str(f))


def test_intermediate_scenarios_are_their_actions(lab):
    d = lab("secondary-import-started")
    sec = d.secondary
    assert hostroot.lockfiles(sec.root) == ["database-in-use"]
    assert count(sec.dsn, "tags") == 3 and readonly(sec)
    assert cfg(sec)["database"]["enabled"] is False
