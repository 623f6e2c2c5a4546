"""Fault injection against the lab: the checker run as an operator runs it, with one site's
GitLab URL, registry URL, DSN or host file pointed at something broken or hostile
(lab/hostile.py). Every fault ends in `error` rows for that site naming the cause, a verdict
that is never READY, a report, and a run within the inventory's timeouts plus 2 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo

from lab import postgres
from lab.hostile import FakePostgres, Hostile, tls_files
from standin import ROOT, run_pytest

pytestmark = pytest.mark.lab

CONNECT_S, READ_S = 1, 2
BOUND_S = CONNECT_S + READ_S + 2  # the run's own duration (summary.json)
STARTUP_S = 15  # generous: interpreter and pytest start-up on a loaded machine


@dataclass
class Outcome:
    returncode: int
    wall_s: float
    summary: dict[str, Any]
    facts: list[dict[str, Any]]
    stdout: str

    def errors(self, site: str | None) -> list[str]:
        return [c["message"] for c in self.summary["checks"]
                if c["site"] == site and c["outcome"] == "error"]

    def fact_error(self, key: str, site: str | None = None) -> str:
        return next(f["error"] or "" for f in self.facts if f["key"] == key and f["site"] == site)


def inventory(lab: Any, tmp: Path, change: Any) -> Path:
    doc = yaml.safe_load(lab.inventory.read_text())
    doc["timeouts"] = {"connect_s": CONNECT_S, "read_s": READ_S}
    change(doc)
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def checker(lab: Any, tmp: Path, change: Any, env: dict[str, str] | None = None,
            never_ready: bool = True) -> Outcome:
    inv = inventory(lab, tmp, change)
    t0 = time.monotonic()
    proc = run_pytest("--profile=migrate-legacy", f"--inventory={inv}",
                      f"--report-dir={tmp / 'reports'}", env={**lab.environ(), **(env or {})})
    wall = time.monotonic() - t0
    return judged(proc.returncode, wall, proc.stdout, tmp, never_ready)


def judged(returncode: int, wall: float, stdout: str, tmp: Path,
           never_ready: bool = True) -> Outcome:
    """What every fault must give: a report, never READY (when the fault touches what the
    step's checks read), within the bound."""
    latest = tmp / "reports" / "latest"
    assert (latest / "summary.json").exists(), stdout[-3000:]
    out = Outcome(returncode, wall, json.loads((latest / "summary.json").read_text()),
                  json.loads((latest / "facts.json").read_text())["facts"], stdout)
    if never_ready:
        assert returncode in (1, 6), stdout[-3000:]
        assert out.summary["verdict"] in ("NOT_READY", "CANNOT_DETERMINE")
    assert out.summary["duration_s"] <= BOUND_S, out.summary["duration_s"]
    assert wall <= BOUND_S + STARTUP_S, wall
    return out


def site_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["sites"] if s["name"] == name)


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    with Hostile() as server:
        yield server


@pytest.fixture
def legacy(lab: Any) -> Any:
    return lab("legacy-both")


# --- HTTP faults: the primary's GitLab, or the secondary's registry ------------------------

GITLAB_FAULTS = {
    "drip-headers": "no complete answer within 3 s (the total deadline",
    "drip-body": "no complete answer within 3 s (the total deadline",
    "endless-chunked": "body larger than 8 MiB",
    "huge-body": "body larger than 8 MiB",
    "gzip-bomb": "body larger than 8 MiB",
    "big-json": "body larger than 8 MiB",
    "500": "500, expected 200",
    "502": "502, expected 200",
    "503": "503, expected 200",
    "invalid-json": "the answer is not JSON",
    "redirect-loop": "302, expected 200",
    "reset": "cannot connect",
    "blackhole": "no answer within 2 s (read timeout)",
}


REGISTRY_FAULTS = {
    "drip-headers": "no complete answer within 3 s (the total deadline",
    "gzip-bomb": "body larger than 8 MiB",
    "endless-chunked": "body larger than 8 MiB",
    "blackhole": "no answer within 2 s (read timeout)",
    "503": "503 without a Bearer challenge",
    "reset": "cannot connect",
}


# the primary's GitLab and the secondary's registry, each pointed at every fault it may meet
HTTP_FAULTS = ([("gitlab", mode, words) for mode, words in GITLAB_FAULTS.items()]
               + [("registry", mode, words) for mode, words in REGISTRY_FAULTS.items()])


@pytest.mark.parametrize("which, mode, words", HTTP_FAULTS,
                         ids=[f"{which}-{mode}" for which, mode, _ in HTTP_FAULTS])
def test_a_hostile_server_is_an_error_within_the_timeouts(legacy: Any, hostile: Hostile,
                                                          tmp_path: Path, which: str, mode: str,
                                                          words: str) -> None:
    site = (legacy.primary if which == "gitlab" else legacy.secondary).name
    out = checker(legacy, tmp_path, lambda d: site_of(d, site)[which].update(
        url=hostile.base(mode)))
    errors = out.errors(site)
    assert errors and any(words in e for e in errors), errors[:5]


def test_a_foreign_token_realm_gets_no_credential(legacy: Any, hostile: Hostile,
                                                  tmp_path: Path) -> None:
    """The registry names a realm on another origin: the admin token must not go there."""
    secondary = legacy.site(legacy.secondary.name)
    out = checker(legacy, tmp_path, lambda d: site_of(d, secondary.name)["registry"].update(
        url=hostile.base("foreign-realm")))
    seen = hostile.seen("foreign-realm")
    assert [s.path for s in seen if "/jwt/auth" in s.path] == []
    assert not any(s.authorization for s in seen)
    errors = out.errors(secondary.name)
    want = f"not the site's gitlab.url ({secondary.gitlab_url})"
    assert errors and all(want in e for e in errors if "realm" in e), errors
    assert any(f"token realm on 127.0.0.1 ({hostile.url})" in e for e in errors), errors


def test_endless_pagination_stops_at_the_page_cap(legacy: Any, hostile: Hostile,
                                                  tmp_path: Path) -> None:
    primary = legacy.primary.name
    out = checker(legacy, tmp_path, lambda d: site_of(d, primary)["gitlab"].update(
        url=hostile.base("endless-pages")))
    assert "more than 50 pages" in out.fact_error("geo.sites")
    assert 50 <= len([s for s in hostile.seen("endless-pages") if "geo_sites?" in s.path]) <= 51


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:1", "Connection refused"),
    ("http://gitlab.invalid", "gitlab.invalid does not resolve"),
])
def test_an_unreachable_gitlab_is_an_error(legacy: Any, tmp_path: Path, url: str,
                                          words: str) -> None:
    primary = legacy.primary.name
    out = checker(legacy, tmp_path, lambda d: site_of(d, primary)["gitlab"].update(url=url))
    assert any(words in e for e in out.errors(primary)), out.errors(primary)[:3]


@pytest.mark.parametrize("which", ["no CA", "wrong CA", "silent"])
def test_tls_faults_are_errors(legacy: Any, tmp_path: Path, which: str) -> None:
    _, cert, key = tls_files(tmp_path / "tls")
    wrong, _, _ = tls_files(tmp_path / "other", "other")
    primary = legacy.primary.name
    with Hostile(tls=(str(cert), str(key)), silent=which == "silent") as server:
        def change(d: dict[str, Any]) -> None:
            gl = site_of(d, primary)["gitlab"]
            gl["url"] = server.base("ok") if which != "silent" else f"https://127.0.0.1:{server.port}"
            if which == "wrong CA":
                gl["ca_bundle"] = str(wrong)
        out = checker(legacy, tmp_path, change)
    words = "TLS verification failed" if which != "silent" else "no complete answer"
    errors = out.errors(primary)
    assert any(words in e or "read timeout" in e for e in errors), errors[:3]


# --- the metadata database ----------------------------------------------------------------

def with_dsn(site: str, env: str) -> Any:
    def change(d: dict[str, Any]) -> None:
        site_of(d, site)["metadata_db"] = {"dsn_env": env}
    return change


def test_a_database_that_never_answers_a_query_is_an_error(legacy: Any, tmp_path: Path) -> None:
    fake = FakePostgres()
    try:
        out = checker(legacy, tmp_path, with_dsn(legacy.secondary.name, "HOSTILE_DSN"),
                      env={"HOSTILE_DSN": fake.dsn()})
    finally:
        fake.stop()
    assert fake.queries >= 1
    assert "gave no answer within 2.5 s of connecting" in out.fact_error(
        "db.server", legacy.secondary.name)
    assert any("gave no answer" in e for e in out.errors(legacy.secondary.name))


def test_a_database_port_that_accepts_and_stays_silent_is_an_error(legacy: Any,
                                                                   tmp_path: Path) -> None:
    with Hostile(silent=True) as silent:
        dsn = f"host=127.0.0.1 port={silent.port} dbname=registry user=registry"
        out = checker(legacy, tmp_path, with_dsn(legacy.secondary.name, "HOSTILE_DSN"),
                      env={"HOSTILE_DSN": dsn})
    assert "timeout expired" in out.fact_error("db.server", legacy.secondary.name)


def test_many_silent_databases_cost_one_connect_timeout(legacy: Any, tmp_path: Path) -> None:
    """Six sites whose DSN reaches a port that accepts and stays silent: every site's
    connection (db.server and the cross-site session probe db.sessions) opens at once, so
    the run stays within one connect_s plus read_s plus 2 s, not six connect_s."""
    def change(d: dict[str, Any]) -> None:
        secondary = site_of(d, legacy.secondary.name)
        secondary["metadata_db"] = {"dsn_env": "HOSTILE_DSN"}
        for section in ("gitlab", "registry"):  # the copies share its URLs, knowingly
            secondary[section] = {**secondary[section], "location_aware": True}
        for n in range(5):
            d["sites"].append({**secondary, "name": f"extra-{n}"})

    with Hostile(silent=True) as silent:
        dsn = f"host=127.0.0.1 port={silent.port} dbname=registry user=registry"
        out = checker(legacy, tmp_path, change, env={"HOSTILE_DSN": dsn})
    assert "timeout expired" in out.fact_error("db.server", "extra-4")
    sessions = next(f for f in out.facts if f["key"] == "db.sessions")["value"]
    assert "timeout expired" in sessions["extra-4"]["error"]


def test_a_database_host_name_is_resolved_and_connected(legacy: Any, tmp_path: Path) -> None:
    """A DSN naming its host (`localhost`, not an address): resolved by the checker within
    connect_s and connected through the address, with the same result as before."""
    site = legacy.site(legacy.secondary.name)
    dsn = make_conninfo(site.dsn, host="localhost")
    out = checker(legacy, tmp_path, with_dsn(site.name, "NAMED_DSN"), env={"NAMED_DSN": dsn},
                  never_ready=False)
    assert out.summary["verdict"] == "READY", out.stdout[-2000:]
    assert next(f for f in out.facts if f["key"] == "db.server"
                and f["site"] == site.name)["error"] is None


def test_a_resolver_that_never_answers_for_the_database_host_is_an_error(
        legacy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg calls getaddrinfo with no timeout; a hung resolver (the stand-in: the
    resolver call itself, blocked until the test ends) ends at connect_s, naming the host."""
    import socket
    import threading

    from geopreflight.http import Http
    from geopreflight.inventory import load_inventory_text
    from geopreflight.probes import ProbeContext, ProbeError
    from geopreflight.probes.database import connect

    release, real = threading.Event(), socket.getaddrinfo

    def hung(host: str, *args: Any, **kw: Any) -> Any:
        if host == "db.hung.example":
            release.wait(30)
        return real(host, *args, **kw)

    doc = yaml.safe_load(legacy.inventory.read_text())
    doc["timeouts"] = {"connect_s": CONNECT_S, "read_s": READ_S}
    site_of(doc, legacy.secondary.name)["metadata_db"] = {
        "host": "db.hung.example", "port": 5432, "dbname": "registry", "user": "registry"}
    inv = load_inventory_text(yaml.safe_dump(doc), "inv.yml", resolve_secrets=False)
    site = next(s for s in inv.sites if s.name == legacy.secondary.name)
    monkeypatch.setattr(socket, "getaddrinfo", hung)
    t0 = time.monotonic()
    try:
        with pytest.raises(ProbeError) as exc, connect(ProbeContext(inv, Http(1, 2)), site, "m"):
            pass
    finally:
        release.set()
    assert "db.hung.example did not resolve within 1 s" in str(exc.value)
    assert time.monotonic() - t0 < CONNECT_S + 0.5


def test_a_wrong_database_password_is_an_error_without_the_password(legacy: Any,
                                                                    tmp_path: Path) -> None:
    site = legacy.site(legacy.secondary.name)
    wrong = "Wr0ngPassw0rdNotThis"
    dsn = make_conninfo(site.dsn, password=wrong)
    out = checker(legacy, tmp_path, with_dsn(site.name, "HOSTILE_DSN"),
                  env={"HOSTILE_DSN": dsn})
    assert "password authentication failed" in out.fact_error("db.server", site.name)
    everything = "".join(p.read_text() for p in (tmp_path / "reports" / "latest").iterdir()
                         if p.is_file()) + out.stdout
    assert wrong not in everything


@pytest.fixture
def locked(legacy: Any) -> Iterator[psycopg.Connection]:
    """The secondary's `repositories` table held ACCESS EXCLUSIVE by another session."""
    with psycopg.connect(legacy.site(legacy.secondary.name).dsn, autocommit=False) as conn:
        conn.execute("LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE")
        yield conn
        conn.rollback()


def test_a_locked_table_ends_at_the_statement_timeout(legacy: Any, locked: Any,
                                                      tmp_path: Path) -> None:
    """The count of the locked table ends at the inventory's read_s (not a fixed 5 s) and is
    recorded as that table's error (a check reading it cannot evaluate: site_view.table).
    No migrate-legacy check reads `repositories` while the registry is legacy, so the verdict
    itself may stand."""
    out = checker(legacy, tmp_path, lambda d: None, never_ready=False)
    fact = next(f for f in out.facts
                if f["key"] == "db.server" and f["site"] == legacy.secondary.name)
    assert "statement timeout" in fact["value"]["tables"]["repositories"]["error"]
    assert READ_S - 0.5 < fact["duration_s"] < READ_S + 1


# --- parts of a lab stopping: its own lab, as these cannot be undone ------------------------

@pytest.fixture(scope="module")
def broken(lab: Any) -> Any:
    return lab("legacy-both", fresh=True)


def test_a_stopped_registry_is_an_error(broken: Any, tmp_path: Path) -> None:
    site = broken.site(broken.primary.name)
    os.kill(int((site.run / "registry.pid").read_text().split()[0]), 9)
    out = checker(broken, tmp_path, lambda d: None)
    errors = out.errors(site.name)
    assert any(c["id"].startswith("REG") for c in out.summary["checks"]
               if c["site"] == site.name and c["outcome"] in ("error", "fail")), errors


def test_postgresql_killed_mid_run_is_an_error(broken: Any, tmp_path: Path) -> None:
    """The checker's query waits on a lock; PostgreSQL dies under it (immediate shutdown)."""
    name = broken.secondary.name
    site = broken.site(name)
    data = Path(next(c["data"] for c in broken.model["clusters"] if c["name"] == name))
    inv = inventory(broken, tmp_path, lambda d: None)
    holder = psycopg.connect(site.dsn, autocommit=False)
    holder.execute("LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--profile=migrate-legacy",
         f"--inventory={inv}", f"--report-dir={tmp_path / 'reports'}"],
        cwd=ROOT, env=broken.environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        waited = _wait_for_lock_waiter(site.dsn, t0 + STARTUP_S)
        postgres.stop(data)
        stdout, _ = proc.communicate(timeout=BOUND_S + STARTUP_S)
    finally:
        proc.kill()
        holder.close()
    assert waited, "the checker's query never waited on the lock"
    out = judged(proc.returncode, time.monotonic() - t0, stdout, tmp_path)
    error = out.fact_error("db.server", name)
    assert error, out.facts
    assert any(c["outcome"] == "error" for c in out.summary["checks"]
               if c["site"] == name and c["id"].startswith("DB"))


def _wait_for_lock_waiter(dsn: str, until: float) -> bool:
    """Whether a geopreflight session waits on a lock before `until` (its own connection:
    pg_stat_activity is a snapshot per transaction)."""
    with psycopg.connect(dsn, autocommit=True) as watcher:
        while time.monotonic() < until:
            if _lock_waiters(watcher):
                return True
            time.sleep(0.05)
    return False


def _lock_waiters(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND application_name LIKE 'geopreflight-%'").fetchone()
    return row[0] if row else 0


# --- host files ---------------------------------------------------------------------------

def test_a_fifo_and_a_link_to_dev_zero_as_host_files_are_errors(legacy: Any,
                                                                 tmp_path: Path) -> None:
    """Each site's root is a copy whose gitlab.rb is a FIFO (primary) or a link to /dev/zero
    (secondary); its other directories link to the lab's."""
    roots = {}
    for site, plant in ((legacy.primary.name, lambda p: os.mkfifo(p)),
                        (legacy.secondary.name, lambda p: p.symlink_to("/dev/zero"))):
        src, dst = legacy.site(site).root, tmp_path / "roots" / site
        shutil.copytree(src / "etc", dst / "etc", symlinks=True)
        for child in src.iterdir():
            if child.name != "etc":
                (dst / child.name).symlink_to(child)
        (dst / "etc" / "gitlab" / "gitlab.rb").unlink()
        plant(dst / "etc" / "gitlab" / "gitlab.rb")
        roots[site] = str(dst)

    def change(d: dict[str, Any]) -> None:
        for site, root in roots.items():
            site_of(d, site)["host"]["root"] = root

    out = checker(legacy, tmp_path, change)
    for site, root in roots.items():
        error = out.fact_error("host.config", site)
        assert f"{root}/etc/gitlab/gitlab.rb" in error and "not a regular file" in error
