"""The lab import: `import` (rows, lockfile swap), then `finish-import` (database mode)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import requests

from lab import hostroot, model

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parent.parent


def db_enabled_header(d, site) -> str:
    r = requests.get(f"{site.registry_url}/v2/",
                     headers={"Authorization": f"Bearer {d.token(site.name)}"}, timeout=5)
    return r.headers["Gitlab-Container-Registry-Database-Enabled"]


def gitlab_v1(d, site) -> int:
    return requests.get(f"{site.registry_url}/gitlab/v1/",
                        headers={"Authorization": f"Bearer {d.token(site.name)}"},
                        timeout=5).status_code


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("repositories", "manifests", "tags", "blobs")}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=60)


def test_import_then_finish_import_walks_the_real_state(fresh_lab):
    d = fresh_lab("legacy-both")
    sec = d.secondary
    assert hostroot.lockfiles(sec.root) == ["filesystem-in-use"]
    assert counts(sec.dsn)["tags"] == 0

    res = cli("import", "--dir", str(d.dir), "--site", sec.name)
    assert res.returncode == 0, res.stderr
    assert "registry import complete" in res.stdout
    # between the two commands: rows and lockfile swapped, registry still legacy and read-only
    assert counts(sec.dsn) == {"repositories": 2, "manifests": 3, "tags": 3, "blobs": 6}
    assert hostroot.lockfiles(sec.root) == ["database-in-use"]
    cfg = hostroot.read_config(sec.root)
    assert cfg["database"]["enabled"] is False
    assert cfg["storage"]["maintenance"]["readonly"]["enabled"] is True
    assert db_enabled_header(d, sec) == "false" and gitlab_v1(d, sec) == 404

    again = cli("import", "--dir", str(d.dir), "--site", sec.name)
    assert again.returncode != 0 and "tags already present in database" in again.stderr

    res = cli("finish-import", "--dir", str(d.dir), "--site", sec.name)
    assert res.returncode == 0, res.stderr
    cfg = hostroot.read_config(sec.root)
    assert cfg["database"]["enabled"] is True and "maintenance" not in cfg["storage"]
    rb = (sec.root / hostroot.GITLAB_RB).read_text()
    assert "'enabled' => true" in rb and "readonly" not in rb
    assert db_enabled_header(d, sec) == "true" and gitlab_v1(d, sec) == 200
    # the primary has not moved
    assert db_enabled_header(d, d.primary) == "false"
    assert hostroot.lockfiles(d.primary.root) == ["filesystem-in-use"]
    # read-only is really off on the secondary now: a push lands and writes its rows
    d.push(sec.name, "group/project/app:after-import")
    assert counts(sec.dsn)["tags"] == 4


def test_step_two_refuses_when_not_read_only_and_the_one_step_import_does_not(fresh_lab):
    """The omnibus wrapper checks read-only only for --step-two (fact sheet B5)."""
    d = fresh_lab("not-read-only")
    with pytest.raises(model.LabError, match="requires the container registry to be in "
                                              "read-only mode"):
        d.import_(d.secondary.name, step="two")
    assert hostroot.lockfiles(d.secondary.root) == ["filesystem-in-use"]
    assert counts(d.secondary.dsn)["tags"] == 0
    d.import_(d.secondary.name)  # the operator's mistake: GitLab lets it run
    assert hostroot.lockfiles(d.secondary.root) == ["database-in-use"]
    assert counts(d.secondary.dsn)["tags"] == 3


def test_finish_import_refuses_before_import(lab):
    d = lab("legacy-both")
    res = cli("finish-import", "--dir", str(d.dir), "--site", d.primary.name)
    assert res.returncode == 1 and "please import data before enabling the database" in res.stderr
    assert hostroot.read_config(d.primary.root)["database"]["enabled"] is False


def test_import_on_a_replica_database_fails(lab):
    d = lab("replica-db")
    with pytest.raises(model.LabError, match="read-only transaction"):
        d.import_(d.secondary.name)
    assert hostroot.lockfiles(d.secondary.root) == ["filesystem-in-use"]


def test_scenario_states_match_the_procedure(lab):
    d = lab("secondary-imported")
    assert db_enabled_header(d, d.secondary) == "true"
    assert db_enabled_header(d, d.primary) == "false"
    assert hostroot.lockfiles(d.secondary.root) == ["database-in-use"]
    assert hostroot.lockfiles(d.primary.root) == ["filesystem-in-use"]
    assert counts(d.secondary.dsn)["tags"] == 3 and counts(d.primary.dsn)["tags"] == 0
