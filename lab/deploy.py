"""Bringing a lab up: `up` cleans the directory, builds the model (`model.py`), starts the
clusters, registries, daemon and the rest, seeds the images, applies the scenario's modes and
knobs, then its `then:` actions. The top of the lab's deployment modules: it uses scenario,
actions, reconfigure, teardown and model, and none of them imports it (only `cli` and the test
fixtures do). Reconfiguring is `reconfigure.py`, taking down and reaping `teardown.py`.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lab import (
    actions,
    hostroot,
    inventory,
    metadata,
    oci,
    pgbouncer,
    postgres,
    registry,
    s3,
    s3proxy,
    scenario,
    sshd,
    state,
    teardown,
    tls,
    tokens,
)
from lab.model import LabError, build_model, cluster, images, primary, site_of
from lab.reconfigure import (
    render_site,
    standin_state,
    start_daemon,
    upstream_cfg,
    wait_daemon,
    wait_replicators,
)

OWN_PATHS = ("lab.json", "inventory.yml", "env", "keys", "run", "sites", "pg", "ssh")


def _log(msg: str, t0: float) -> None:
    if os.environ.get("LAB_VERBOSE"):
        print(f"[lab {time.monotonic() - t0:5.2f}s] {msg}", file=sys.stderr)


def up(scenario_ref: str, lab_dir: Path, *, owner: int | None,
       ssh: bool = False) -> dict[str, Any]:
    """Start a lab for a scenario in `lab_dir`; returns the lab model. `owner` is the process
    the lab lives with (a test session: its own pid): once it is gone, the next `up` or `gc`
    takes the lab down; None is a persistent lab (the CLI's `up`, meant to outlive it). With
    `ssh` (or the scenario's `ssh: true`) the lab runs an sshd and the inventory reads hosts
    over it."""
    t0 = time.monotonic()
    if not registry.available():
        raise LabError("docker-registry is not installed (apt-get install docker-registry)")
    scn = scenario.load(scenario_ref)
    record = teardown.owner_record(owner)
    teardown.gc()  # what a killed session left: labs whose owner or directory is gone
    _log("labs of dead owners reaped", t0)
    lab_dir = Path(lab_dir).resolve()
    lab = _prepare(scn, lab_dir, record, ssh)
    errors: list[BaseException] = []
    pg_thread = threading.Thread(target=_setup_databases, args=(lab, errors), name="pg-setup")
    pg_thread.start()
    try:
        _start_services(lab, t0)
        pg_thread.join()
        if errors:
            raise errors[0]
        _log("databases up", t0)
        _apply_modes(lab)
        _log("modes applied", t0)
        _db_knobs(lab)
        _log("database knobs applied", t0)
        _poolers(lab)
        wait_daemon(lab, lab_dir / "run")
        _log("daemon up", t0)
        lab["status"] = "up"
        wait_replicators(lab)
        _log("replicators caught up", t0)
        state.write(lab_dir / "lab.json", lab)
        inventory.write(lab, lab_dir)
        if scn.get("then"):
            for line in scn["then"]:
                actions.run_line(lab_dir, line)
            _log("then: " + "; ".join(scn["then"]), t0)
        return state.update(lab_dir / "lab.json", lambda d: d.update(
            up_seconds=round(time.monotonic() - t0, 2)))
    except BaseException:
        pg_thread.join()
        teardown.down(lab_dir, quiet=True)
        raise


def _prepare(scn: dict[str, Any], lab_dir: Path, owner: dict[str, int] | None,
             ssh: bool) -> dict[str, Any]:
    """Clean whatever a dead lab left in `lab_dir`, make the clusters' directory, build and
    write the model (with its owner) and the cluster directories; nothing runs yet."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    teardown.down(lab_dir, quiet=True)
    for name in OWN_PATHS:
        p = lab_dir / name
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.exists():
            shutil.rmtree(p)
    run = lab_dir / "run"
    run.mkdir()
    pg_root = Path(tempfile.mkdtemp(prefix="gpl-", dir="/tmp"))
    (run / "pgroot").write_text(f"{pg_root}\n")
    pg_root.chmod(0o755)
    postgres.chown_postgres(pg_root)
    (lab_dir / "pg").symlink_to(pg_root)
    lab = build_model(scn, lab_dir, pg_root)
    lab["owner"] = owner
    if ssh or scn.get("ssh"):
        try:
            lab["ssh"] = sshd.setup(lab_dir)
        except (sshd.SshdError, subprocess.CalledProcessError) as exc:
            raise LabError(f"the lab's sshd: {exc}") from None
    state.write(lab_dir / "lab.json", lab)
    # after lab.json, so `gc` never mistakes a lab that is coming up for one whose directory
    # is gone; lets `down` find the clusters even without run/
    (pg_root / "owner").write_text(f"{lab_dir}\n")
    for c in lab["clusters"]:
        Path(c["data"]).parent.mkdir(parents=True)
        postgres.chown_postgres(Path(c["data"]).parent)
        if c["bundled_root"]:  # the Linux package's PostgreSQL lives in the host root
            pg_dir = Path(c["bundled_root"]) / hostroot.PG_DIR
            pg_dir.mkdir(parents=True, exist_ok=True)
            postgres.chown_postgres(pg_dir)
            (pg_dir / "data").symlink_to(c["data"])
    return lab


def _start_services(lab: dict[str, Any], t0: float) -> None:
    """Keys, the S3 server, host files, registries, the daemon and the sshd; the images
    seeded, then read-only mode where the scenario wants it (while the clusters come up)."""
    lab_dir, run = Path(lab["dir"]), Path(lab["dir"]) / "run"
    for pair in {(s["key_file"], s["cert_file"]) for s in lab["sites"]} | {
            (n["key_file"], n["cert_file"]) for s in lab["sites"]
            for n in s.get("nodes") or [] if "key_file" in n} | {
            (lab["key_file"], lab["cert_file"])}:
        tokens.generate(Path(pair[0]), Path(pair[1]))
    if lab["tls"]:  # the lab's own clients get tls.client_env; `up` itself needs none
        tls.generate(lab_dir)
    _log("keys", t0)
    buckets = [s["s3"] for s in lab["sites"] if s.get("s3")]
    if buckets:
        s3.start(run, buckets[0]["port"])
        redirecting = [b for b in buckets if b.get("redirect")]
        if redirecting:  # before the buckets: the lab's own client goes through it too
            s3proxy.start(run, redirecting[0]["proxy_port"], buckets[0]["port"],
                          sorted({b["bucket"] for b in redirecting if b["tampered"]}))
        for b in {b["bucket"]: b for b in buckets}.values():  # a shared bucket once
            s3.create_bucket(b)
        _log("S3 server and buckets", t0)
    reg_pids = {}
    for s in lab["sites"]:
        Path(s["run"]).mkdir(parents=True, exist_ok=True)
        render_site(lab, s)
        state.write(Path(s["run"]) / "gitlab-state.json", standin_state(lab, s))
        if s["registry"]["enabled"]:
            registry.write_config(Path(s["run"]) / "registry.yml",
                                  upstream_cfg(lab, s, read_only=False))
            reg_pids[s["name"]] = registry.start("registry", Path(s["run"]) / "registry.yml",
                                                 Path(s["run"]))
    start_daemon(lab)
    if lab.get("ssh"):
        try:
            sshd.start(lab["ssh"], run)
        except sshd.SshdError as exc:
            raise LabError(str(exc)) from None
    for s in lab["sites"]:
        if s["name"] in reg_pids:
            registry.wait_ready(s["ports"]["registry"], reg_pids[s["name"]])
    _log("registries up", t0)
    _seed(lab)
    _log("images seeded", t0)
    for s in lab["sites"]:  # read-only maintenance mode, once the images are in
        if s["registry"]["enabled"] and s["registry"]["read_only"]:
            registry.write_config(Path(s["run"]) / "registry.yml", upstream_cfg(lab, s))
            registry.restart("registry", Path(s["run"]) / "registry.yml", Path(s["run"]),
                             s["ports"]["registry"])
    (run / "ready").touch()  # the replicators start their backfill now


def _apply_modes(lab: dict[str, Any]) -> None:
    """Each registry's metadata mode once the databases are up: rows imported for database
    mode, the lockfiles a legacy, prefer or database registry writes."""
    for s in lab["sites"]:
        if not s["registry"]["enabled"]:
            continue
        root = Path(s["root"])
        if s.get("s3"):  # the lab imports only from a filesystem: legacy or prefer here
            has_data = s3.has_repositories(s["s3"])
            lock = has_data and s["registry"]["lockfile"]
            s3.set_lockfile(s["s3"], "filesystem-in-use" if lock else (
                "database-in-use" if s["registry"]["mode"] != "legacy" else None))
            continue
        has_data = bool(metadata.tagged_images(root / hostroot.STORAGE))
        if s["registry"]["mode"] == "database":
            if has_data and not s["db"]["empty"]:
                metadata.import_storage(s["db"]["dsn"], root / hostroot.STORAGE)
                s["imported"] = True
            hostroot.set_lockfile(root, "database-in-use")
        elif s["registry"]["mode"] == "prefer":  # fresh install: database; data: fallback
            hostroot.set_lockfile(root, "filesystem-in-use" if has_data else "database-in-use")
        else:  # `lockfile: false`: a legacy registry that never wrote its lockfile
            lock = has_data and s["registry"]["lockfile"]
            hostroot.set_lockfile(root, "filesystem-in-use" if lock else None)


# -- PostgreSQL ----------------------------------------------------------------------------------
def _setup_databases(lab: dict[str, Any], errors: list[BaseException]) -> None:
    try:
        pg_root = Path(lab["pg_root"])
        by_name = {c["name"]: c for c in lab["clusters"]}

        def own(c: dict[str, Any]) -> None:
            cl = cluster(c, pg_root)
            postgres.init(cl)
            postgres.start(cl, Path(c["data"]).parent / "postgres.log")
            if c["bundled_root"]:
                postgres.create_database(cl, "gitlabhq_production")
            for s in lab["sites"]:
                if s["db"]["cluster"] == c["name"] and s["db"]["kind"] in ("external", "bundled"):
                    _create_db(cl, s)

        threads = [threading.Thread(target=_collect, args=(own, c, errors))
                   for c in lab["clusters"] if c["replica_of"] is None]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            return
        for s in lab["sites"]:
            if s["db"]["kind"] == "shared-with":
                _create_db(cluster(by_name[s["db"]["cluster"]], pg_root), s)
        for c in lab["clusters"]:
            if c["replica_of"]:
                src = cluster(by_name[c["replica_of"]], pg_root)
                rep = cluster(c, pg_root)
                postgres.basebackup(src, rep)
                postgres.start(rep, Path(c["data"]).parent / "postgres.log")
    except BaseException as exc:  # reported by the caller
        errors.append(exc)


def _collect(fn: Any, arg: Any, errors: list[BaseException]) -> None:
    try:
        fn(arg)
    except BaseException as exc:
        errors.append(exc)


def _create_db(cl: postgres.Cluster, s: dict[str, Any]) -> None:
    postgres.create_registry_db(cl, s["db"]["dbname"], s["db"]["user"], s["db"]["password"])
    if s["db"]["migrated"]:
        metadata.migrate(cl.conninfo(s["db"]["dbname"]), s["db"]["user"],
                         s["registry"]["version"], tuple(s["db"]["pending"]))
    if s["db"].get("inventory_dbname"):  # an empty database the registry does not use
        postgres.create_registry_db(cl, s["db"]["inventory_dbname"], s["db"]["user"],
                                    s["db"]["password"])


def _db_knobs(lab: dict[str, Any]) -> None:
    """What a DBA did to a site's registry database after it was set up, as the superuser:
    restored another site's dump into it, changed its settings, gave it to another role."""
    pg_root = Path(lab["pg_root"])
    by_name = {c["name"]: cluster(c, pg_root) for c in lab["clusters"]}
    for s in lab["sites"]:
        db = s["db"]
        cl = by_name[db["cluster"]]
        if db.get("restore_from"):
            src = site_of(lab, db["restore_from"])
            postgres.restore_dump(by_name[src["db"]["cluster"]], src["db"]["dbname"], cl,
                                  db["dbname"], db["user"])
        postgres.alter_database(cl, db["dbname"], settings=db.get("settings") or {},
                                owner=db.get("owner"))
        if db.get("monitor"):
            postgres.create_monitoring_role(cl, db["monitor"]["user"], db["monitor"]["password"])


def _poolers(lab: dict[str, Any]) -> None:
    """Start each site's PgBouncer (after the databases and roles exist)."""
    for s in lab["sites"]:
        db = s["db"]
        if not db.get("pooler"):
            continue
        users = {db["user"]: db["password"]}
        if db.get("monitor"):
            users[db["monitor"]["user"]] = db["monitor"]["password"]
        dbnames = sorted({db["dbname"], db.get("inventory_dbname") or db["dbname"]})
        pgbouncer.start(s["name"], Path(lab["pg_root"]) / s["name"] / "pgbouncer",
                        Path(lab["dir"]) / "run", db["port"], db["direct_port"], dbnames, users)


# -- images --------------------------------------------------------------------------------------
def _direct_client(lab: dict[str, Any], site: dict[str, Any]) -> oci.Client:
    """A client for the site's registry process itself, with tokens signed by its key."""
    key, cert = Path(site["key_file"]), Path(site["cert_file"])

    def token(_challenge: str, scope: str) -> str:
        return tokens.mint(key, cert, tokens.scope_access(scope) if scope else [], "lab-seed")

    return oci.Client("http://" + site["registry_http_addr"], token)


def _seed(lab: dict[str, Any]) -> None:
    """Push every site's images; copy the primary's to replicating secondaries (in sync)."""
    source = primary(lab)
    for s in lab["sites"]:
        if s["registry"]["enabled"]:
            c = _direct_client(lab, s)
            for repo, tag in images(s):
                oci.push(c, repo, tag)
    if source is None:
        return
    src = _direct_client(lab, source)
    for s in lab["sites"]:
        if s["replicating"]:
            dst = _direct_client(lab, s)
            for repo, tag in images(source):
                if not any(fnmatch.fnmatch(repo, p) for p in s["replication"]["failing"]):
                    oci.copy(src, dst, repo, tag)
