"""The operator's actions on a running lab, each doing to the sites' real state what the GitLab
command or procedure step does (fact sheet sections 0, A, B, F; the docs cited per action).

Each action reads `lab.json`, changes the model, and "reconfigures" the sites it touched
(`reconfigure.reconfigure`: host files, config.yml, registry restart, stand-in states,
inventory). An action GitLab refuses raises `model.LabError` with GitLab's message, changing
nothing. Their command lines (`python -m lab <action>`, a scenario's `then:` lines) are parsed
here too, so that `cli`, `scenario` and `deploy` sit above this module and it imports none of
them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from lab import hostroot, metadata, model, oci, ports, postgres, state
from lab.model import LabError
from lab.reconfigure import reconfigure

STEPS = {None: "all", "one": "pre", "two": "tags", "three": "blobs"}


def _site(lab_dir: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    lab = model.load(lab_dir)
    return lab, model.site_of(lab, name)


def _enabled_registry(site: dict[str, Any]) -> None:
    if not site["registry"]["enabled"]:  # gitlab-ctl registry-database (fact sheet B5)
        raise LabError("Container registry is not enabled, exiting...")


def _readonly(site: dict[str, Any]) -> bool:
    cfg = hostroot.read_config(Path(site["root"])) or {}
    ro = ((cfg.get("storage") or {}).get("maintenance") or {}).get("readonly") or {}
    return ro.get("enabled") is True


def _db_enabled(site: dict[str, Any]) -> Any:
    return ((hostroot.read_config(Path(site["root"])) or {}).get("database") or {}).get("enabled")


def _change(lab: dict[str, Any], name: str, fn: Any) -> dict[str, Any]:
    """Apply `fn(site)` to one site in lab.json, return the new model."""
    return state.update(Path(lab["dir"]) / "lab.json", lambda d: fn(model.site_of(d, name)))


def import_(lab_dir: Path, site_name: str, step: str | None = None, interrupt: bool = False,
            out: Any = sys.stdout, skip_half: bool = False, rate: float | None = None,
            freeze_after: int | None = None) -> dict[str, int]:
    """`sudo -u registry gitlab-ctl registry-database import [--step-one|two|three]`.

    - no step: the one-step import (pre-import, tag import and blob import back to back,
      fact sheet B3). The omnibus wrapper does NOT check read-only mode for it (B5), so
      neither does the lab: importing a read-write registry is the operator's mistake.
    - `one` (`--step-one`, pre-import): manifests and their blobs, no tags; the registry may
      stay read-write; the lockfiles stay as they were (B4, B7: only the tag import swaps them).
    - `two` (`--step-two`, all repositories): refused unless read-only, as the wrapper does
      (`needs_read_only`, B5); every repository with its tags; `filesystem-in-use` replaced by
      `database-in-use` when it succeeds (B7).
    - `three` (`--step-three`, common blobs): runs with the database enabled and read-only
      off (B4 table); the lab refuses otherwise (UNVERIFIED: the docs say when to run it, no
      source shows the command refusing; the message is the lab's). Lockfiles unchanged.
    - `interrupt`: the tag import stops after the first repository (as when the command is
      killed): its rows stay, the importer restores `filesystem-in-use` (B7, RestoreLockfiles;
      that rows stay is an INFERENCE), and the command fails.
    - `skip_half`: a defect, the importer skips every other repository (as it skips one whose
      `_manifests` paths are missing, importer.go) and still finishes and swaps the lockfiles.
    - `rate`: at most that many repositories a second, so that `--watch` has something to
      watch; `freeze_after` repositories: the command hangs there (alive, writing nothing)
      until it is killed, as a stalled import does.
    Migrations pending or tags already present: refused with the registry's messages (B6, B7).
    Rows land in the site's registry DB (repositories, manifests, blobs, tags,
    import_statistics), as the registry writes them (F4).
    """
    if step not in STEPS:
        raise LabError(f"unknown import step {step!r} (one, two or three)")
    phase = STEPS[step]
    if interrupt and phase not in ("all", "tags"):
        raise LabError("--interrupt stops a tag import: the one-step import or --step two")
    lab, site = _site(lab_dir, site_name)
    _enabled_registry(site)
    root = Path(site["root"])
    if phase == "tags" and not _readonly(site):
        raise LabError("Command requires the container registry to be in read-only mode. "
                       "Exiting...")
    if phase == "blobs" and (_db_enabled(site) is not True or _readonly(site)):
        raise LabError("lab: --step-three imports common blobs once the database is enabled "
                       "and read-only mode is off (finish steps one and two first)")
    label = {"all": "one-step import", "pre": "step one (pre-import)",
             "tags": "step two (all repositories)", "blobs": "step three (common blobs)"}[phase]
    print(f"{site_name}: {label}", file=out, flush=True)
    t = time.monotonic()
    try:
        counts = metadata.import_storage(site["db"]["dsn"], root / hostroot.STORAGE, phase,
                                         stop_after=1 if interrupt else None,
                                         skip_half=skip_half, rate=rate,
                                         freeze_after=freeze_after)
    except metadata.ImportInterrupted as exc:
        hostroot.set_lockfile(root, "filesystem-in-use")
        _change(lab, site_name, lambda s: s.update(import_phase="interrupted"))
        raise LabError(f"failed to import metadata: {exc} (lab: --interrupt)") from exc
    except metadata.ImportRefused as exc:
        raise LabError(f"failed to import metadata: {exc}") from exc
    except Exception as exc:  # e.g. a read-only replica
        raise LabError("failed to import metadata: " + str(exc).splitlines()[0]) from exc
    d = f"{time.monotonic() - t:.3f}s"
    names = {"pre": ["one: import manifests"], "tags": ["two: import tags"],
             "blobs": ["three: import blobs"]}
    for line in names.get(phase) or names["pre"] + names["tags"] + names["blobs"]:
        print(f"step {line}\nstep {line.split(':')[0]} completed in {d}", file=out)
    if phase in ("all", "tags"):
        hostroot.set_lockfile(root, "database-in-use")
    _change(lab, site_name, lambda s: s.update(
        import_phase={"pre": "step-one", "blobs": "step-three"}.get(phase, "imported"),
        imported=True if phase in ("all", "tags") else s.get("imported", False)))
    print(f"registry import complete (repositories={counts['repositories']} "
          f"manifests={counts['manifests']} tags={counts['tags']} blobs={counts['blobs']})",
          file=out)
    return counts


def finish_import(lab_dir: Path, site_name: str, out: Any = sys.stdout) -> None:
    """After the import (or step two): `registry['database']['enabled'] = true`, the
    maintenance section removed, `gitlab-ctl reconfigure` (fact sheet B3 step 5, B4). The
    registry refuses to start in database mode while `filesystem-in-use` is there (B10)."""
    lab, site = _site(lab_dir, site_name)
    _enabled_registry(site)
    if "filesystem-in-use" in hostroot.lockfiles(Path(site["root"])):
        raise LabError("registry filesystem metadata in use, please import data before "
                       "enabling the database, see https://docs.gitlab.com/administration/"
                       "packages/container_registry_metadata_database/#existing-registries")
    lab = _change(lab, site_name, lambda s: s["registry"].update(mode="database",
                                                                  read_only=False))
    reconfigure(lab, [site_name])
    print(f"{site_name}: registry['database']['enabled'] = true, read-only off; reconfigured",
          file=out)


def set_read_only(lab_dir: Path, site_name: str, on: bool, out: Any = sys.stdout) -> None:
    """`'maintenance' => {'readonly' => {'enabled' => true}}` in `registry['storage']` (or
    removed), reconfigure: the registry answers writes with 405 while on (fact sheet A4, C6)."""
    lab, site = _site(lab_dir, site_name)
    if not site["registry"]["enabled"]:
        raise LabError(f"the registry of {site_name} is not enabled")
    lab = _change(lab, site_name, lambda s: s["registry"].update(read_only=on))
    reconfigure(lab, [site_name])
    print(f"{site_name}: read-only {'on' if on else 'off'}; reconfigured", file=out)


def enable_registry(lab_dir: Path, site_name: str, out: Any = sys.stdout) -> None:
    """Enable the container registry on a site (`registry_external_url`, `registry['enable']
    = true`, reconfigure; fact sheet A2): it starts empty with legacy metadata (enabled false
    before 19.0, B9); replication stays as configured (A6)."""
    lab, site = _site(lab_dir, site_name)
    if site["registry"]["enabled"]:
        raise LabError(f"the registry of {site_name} is already enabled")
    def change(d: dict[str, Any]) -> None:
        model.site_of(d, site_name)["registry"]["enabled"] = True
        model.set_replicating(d["sites"])

    lab = state.update(Path(lab["dir"]) / "lab.json", change)
    reconfigure(lab, [site_name], daemon=True)
    print(f"{site_name}: container registry enabled; reconfigured", file=out)


def setup_metadata_db(lab_dir: Path, site_name: str, out: Any = sys.stdout) -> None:
    """The metadata database for a new registry (no data): `gitlab-ctl registry-database
    migrate up`, then `registry['database'] = {'enabled' => true, ...}`, reconfigure (fact
    sheet B8, A3). The registry then marks the storage `database-in-use` (INFERENCE from B9:
    a database-mode registry on a fresh storage); it refuses to start while
    `filesystem-in-use` is there (B10), so a registry with legacy data must be imported."""
    lab, site = _site(lab_dir, site_name)
    _enabled_registry(site)
    root = Path(site["root"])
    if "filesystem-in-use" in hostroot.lockfiles(root):
        raise LabError("registry filesystem metadata in use, please import data before "
                       "enabling the database, see https://docs.gitlab.com/administration/"
                       "packages/container_registry_metadata_database/#existing-registries")
    if not site["db"]["migrated"]:
        try:
            metadata.migrate(site["db"]["dsn"], site["db"]["user"],
                             site["registry"]["version"], tuple(site["db"]["pending"]))
        except Exception as exc:  # e.g. a read-only replica: SQLSTATE 25006
            raise LabError("registry database migrate up failed: "
                           + str(exc).splitlines()[0]) from exc
    hostroot.set_lockfile(root, "database-in-use")

    def change(s: dict[str, Any]) -> None:
        s["db"]["migrated"] = True
        s["registry"]["mode"] = "database"

    reconfigure(_change(lab, site_name, change), [site_name])
    print(f"{site_name}: migrations applied, registry['database']['enabled'] = true; "
          "reconfigured", file=out)


def setup_geo(lab_dir: Path, out: Any = sys.stdout) -> None:
    """Set up Geo: the inventory's primary becomes the Geo primary and the others its
    secondaries (`roles ['geo_primary_role']` / `['geo_secondary_role']`, `geo_node_name`,
    the sites registered; fact sheet A1, D). Geo set-up alone configures no registry
    replication: no `geo_event` endpoint on the primary (A5), replication off on the
    secondaries (A6) until `configure-replication`."""
    lab = model.load(lab_dir)
    if any(s["geo"] != "none" for s in lab["sites"]):
        raise LabError("Geo is already set up on " + ", ".join(
            s["name"] for s in lab["sites"] if s["geo"] != "none"))

    def change(d: dict[str, Any]) -> None:
        primary = next(s for s in d["sites"] if s["role"] == "primary")
        ordered = [primary] + [s for s in d["sites"] if s is not primary]
        for n, s in enumerate(ordered, start=1):
            s["geo"] = "primary" if s is primary else "secondary"
            s["geo_id"] = n
            s["token"] = primary["token"]  # one administrator across Geo sites
            if s is primary:
                s["registry"]["notifications"] = False
            else:
                s["replication"]["enabled"] = False
        model.set_replicating(d["sites"])

    lab = state.update(Path(lab["dir"]) / "lab.json", change)
    reconfigure(lab, [s["name"] for s in lab["sites"]], daemon=True)
    print("Geo set up: " + ", ".join(f"{s['name']} ({s['geo']})" for s in lab["sites"]),
          file=out)


def configure_replication(lab_dir: Path, out: Any = sys.stdout) -> None:
    """Configure container registry replication (fact sheet A5, A6, E1): on the primary the
    `geo_event` notification endpoint (its secret as `registry_notification_secret`), on each
    secondary `geo_registry_replication_enabled` and `..._primary_api_url`; reconfigure.
    Geo then backfills the existing repositories (E2)."""
    lab = model.load(lab_dir)
    primary = next((s for s in lab["sites"] if s["geo"] == "primary"), None)
    if primary is None:
        raise LabError("no Geo primary: set up Geo first")
    off = [s["name"] for s in lab["sites"] if s["geo"] != "none" and not s["registry"]["enabled"]]
    if off:
        raise LabError("the container registry is not enabled on " + ", ".join(off))

    def change(d: dict[str, Any]) -> None:
        for s in d["sites"]:
            if s["geo"] == "primary":
                s["registry"]["notifications"] = True
            elif s["geo"] == "secondary":
                s["replication"]["enabled"] = True
        model.set_replicating(d["sites"])

    lab = state.update(Path(lab["dir"]) / "lab.json", change)
    reconfigure(lab, [s["name"] for s in lab["sites"] if s["geo"] != "none"], daemon=True)
    print("registry replication configured for "
          + ", ".join(s["name"] for s in lab["sites"] if s["replicating"]), file=out)


def move_db(lab_dir: Path, site_name: str, half: bool = False, lose: tuple[str, ...] = (),
            out: Any = sys.stdout) -> None:
    """Move a site's registry database from the bundled PostgreSQL to a new external one
    (scenario 5; "Moving GitLab databases to a different PostgreSQL instance": pg_dump,
    pg_restore, point `registry['database']` host/port/password at it, reconfigure; applying
    that page to the registry DB is an INFERENCE, fact sheet F2). GitLab's own PostgreSQL
    keeps running, and the inventory names it as `metadata_db.moved_from`, as an operator
    who verifies the move does. `half`: the restore stopped before the `tags` rows arrived (a
    half-moved database: schema and other rows there, no tags). `lose`: images (`repo:tag`)
    pushed after the dump was taken, with the registry still read-write: their rows never
    reach the new database."""
    lab, site = _site(lab_dir, site_name)
    if not site["db"]["bundled"]:
        raise LabError(f"the registry database of {site_name} is not on the bundled "
                       "PostgreSQL")
    pg_root = Path(lab["pg_root"])
    old = next(c for c in lab["clusters"] if c["name"] == site["db"]["cluster"])
    new = {"name": f"{site_name}-external", "port": ports.free_port(lab["dir"]),
           "data": str(pg_root / f"{site_name}-external" / "data"),
           "password": model.new_secret(20), "replica_of": None, "bundled_root": None}
    Path(new["data"]).parent.mkdir(parents=True)
    postgres.chown_postgres(Path(new["data"]).parent)
    cl = model.cluster(new, pg_root)
    postgres.init(cl)
    postgres.start(cl, Path(new["data"]).parent / "postgres.log")
    db = site["db"]
    postgres.create_registry_db(cl, db["dbname"], db["user"], new["password"])
    postgres.restore_dump(model.cluster(old, pg_root), db["dbname"], cl, db["dbname"],
                          db["user"], skip_data=("tags",) if half else ())
    moved_from = {"host": "127.0.0.1", "port": old["port"], "dbname": db["dbname"],
                  "user": db["user"], "password": old["password"]}
    dsn = (f"postgresql://{db['user']}:{new['password']}@127.0.0.1:{new['port']}/"
           f"{db['dbname']}?connect_timeout=5")

    def change(d: dict[str, Any]) -> None:
        d["clusters"].append(new)
        s = model.site_of(d, site_name)
        s["db"].update(placement="external", kind="external", bundled=False,
                       cluster=new["name"], port=new["port"], password=new["password"],
                       dsn=dsn, inventory_dsn=dsn, half_moved=half, moved_from=moved_from)

    lab = state.update(Path(lab["dir"]) / "lab.json", change)
    reconfigure(lab, [site_name], daemon=True)
    # the new cluster is in lab.json now: a refusal here leaves nothing running unowned
    missing = metadata.forget(cl.conninfo(db["dbname"]), [oci.split_ref(i) for i in lose])
    if missing:
        raise LabError(f"--lose: no tag {', '.join(missing)} in {site_name}'s database")
    print(f"{site_name}: registry database moved to 127.0.0.1:{new['port']}"
          + (" (half restored: no tags)" if half else ""), file=out)


def wait_sync(lab_dir: Path, site_name: str, image: str, timeout_s: float = 20.0,
              out: Any = sys.stdout) -> str:
    """Wait until the secondary's replicator has handled `repository:tag` (copied it, or
    rescued its error), so the next action cannot race it; returns what it did."""
    _, site = _site(lab_dir, site_name)
    repo, _, tag = image.partition(":")
    log = Path(site["run"]) / "replication.log"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in (log.read_text().splitlines() if log.exists() else []):
            entry = json.loads(line)
            if entry.get("repository") != repo:
                continue
            if tag in entry.get("copied", []):
                print(f"{site_name}: {image} copied", file=out)
                return "copied"
            if any(x.startswith(f"{tag}: ") for x in entry.get("lost", [])):
                print(f"{site_name}: {image} not copied, marked synced", file=out)
                return "lost"
        time.sleep(0.1)
    raise LabError(f"{site_name}'s replicator did not handle {image} within {timeout_s:g} s")


def push(lab_dir: Path, site_name: str, image: str, salt: str = "", db_only: bool = False
         ) -> str:
    """Push a tiny image to a site's registry URL as the lab's user (`docker push`).
    `db_only`: as a registry in database mode stores it: its rows in the metadata database
    and its blobs in storage, but no `_manifests` (tag links) there, so only the database
    knows the tag (the lab's registry writes them: they are removed)."""
    lab = model.load(lab_dir)
    site = model.site_of(lab, site_name)
    if not site["registry"]["enabled"]:
        raise LabError(f"the registry of {site_name} is not enabled")
    repo, tag = oci.split_ref(image)
    tree = Path(site["root"]) / hostroot.STORAGE / hostroot.REPOSITORIES / repo
    if db_only and (site.get("s3") or not _db_enabled(site)):
        raise LabError(f"--db-only needs {site_name}'s registry in database mode on "
                       "filesystem storage")
    known = (tree / "_manifests").exists()
    client = oci.Client(site["registry_url"],
                        oci.basic_auth_tokens(site["username"], site["token"]))
    try:
        digest = oci.push(client, repo, tag, salt)
    except oci.RegistryError as exc:
        hint = " (the registry is in read-only mode)" if exc.status == 405 else ""
        raise LabError(f"push {repo}:{tag} to {site_name} failed: {exc}{hint}") from exc
    if db_only:  # a repository new to the storage leaves no trace under repositories/
        shutil.rmtree(tree / "_manifests" / "tags" / tag if known else tree)
    return digest


# -- command lines ------------------------------------------------------------------------------
def command(sub: Any, name: str, text: str, site: bool = True) -> argparse.ArgumentParser:
    """A `python -m lab` subcommand on one lab (`--dir`) and, with `site`, one site."""
    p = sub.add_parser(name, help=text)
    p.add_argument("--dir", required=True)
    if site:
        p.add_argument("--site", required=True)
    return p


def add_parsers(sub: Any) -> None:
    """The actions' subcommands of `python -m lab` (what a scenario's `then:` may name)."""
    p = command(sub, "import", "gitlab-ctl registry-database import [--step-one|two|three], "
                "one site")
    p.add_argument("--step", choices=("one", "two", "three"),
                   help="a step of the three-step import (default: the one-step import)")
    p.add_argument("--interrupt", action="store_true",
                   help="stop the tag import after the first repository")
    p.add_argument("--skip-half", action="store_true",
                   help="a defect: skip every other repository, finish and swap the lockfiles")
    p.add_argument("--rate", type=float, metavar="REPOS_PER_S",
                   help="slow the import to at most this many repositories a second")
    p.add_argument("--freeze-after", type=int, metavar="N",
                   help="hang after N repositories (alive, writing nothing): a stalled import")
    command(sub, "finish-import", "database enabled, read-only off, reconfigure")
    p = command(sub, "set-read-only", "read-only maintenance mode on or off, reconfigure")
    p.add_argument("state", choices=("on", "off"))
    command(sub, "enable-registry", "enable the container registry on a site")
    command(sub, "setup-metadata-db", "migrate a new registry's database and enable it")
    command(sub, "setup-geo", "make the primary the Geo primary and the others its secondaries",
            site=False)
    command(sub, "configure-replication", "the primary's geo_event endpoint, the secondaries' "
            "registry replication", site=False)
    p = command(sub, "move-db", "move a bundled registry database to a new external PostgreSQL")
    p.add_argument("--half", action="store_true", help="leave it half restored (no tags)")
    p.add_argument("--lose", action="append", default=[], metavar="IMAGE:TAG",
                   help="an image pushed after the dump: its rows never reach the new database")
    p = command(sub, "push", "push a tiny image to a site's registry")
    p.add_argument("image", help="IMAGE[:TAG]")
    p.add_argument("--db-only", action="store_true",
                   help="as database mode stores it: rows and blobs, no tag links in storage")
    p = command(sub, "wait-sync", "wait until a secondary's replicator handled a pushed image")
    p.add_argument("image", help="IMAGE:TAG")


def _line_parser() -> tuple[argparse.ArgumentParser, tuple[str, ...]]:
    parser = argparse.ArgumentParser(prog="python -m lab")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_parsers(sub)
    return parser, tuple(sub.choices)


LINE_PARSER, ACTIONS = _line_parser()  # ACTIONS: the names a scenario's `then:` may use


def act(args: argparse.Namespace) -> None:
    """Run one operator action (`import`, `move-db`, ...) as the command line names it."""
    d = Path(args.dir)
    if args.cmd == "import":
        import_(d, args.site, args.step, args.interrupt, skip_half=args.skip_half,
                rate=args.rate, freeze_after=args.freeze_after)
    elif args.cmd == "finish-import":
        finish_import(d, args.site)
    elif args.cmd == "set-read-only":
        set_read_only(d, args.site, args.state == "on")
    elif args.cmd == "enable-registry":
        enable_registry(d, args.site)
    elif args.cmd == "setup-metadata-db":
        setup_metadata_db(d, args.site)
    elif args.cmd == "setup-geo":
        setup_geo(d)
    elif args.cmd == "configure-replication":
        configure_replication(d)
    elif args.cmd == "move-db":
        move_db(d, args.site, args.half, tuple(args.lose))
    elif args.cmd == "wait-sync":
        wait_sync(d, args.site, args.image)
    elif args.cmd == "push":
        print(push(d, args.site, args.image, db_only=args.db_only))


def run_line(lab_dir: Path, line: str) -> None:
    """One action as the command line names it, for a scenario's `then:` list and the tests;
    a line that starts with `!` is one that fails, as GitLab's command does (an interrupted
    import). A refusal raises LabError with the action's own message."""
    fails = line.startswith("!")
    args = LINE_PARSER.parse_args([*shlex.split(line.lstrip("! ")), "--dir", str(lab_dir)])
    try:
        act(args)
    except LabError as exc:
        if not fails:
            raise
        print(f"{line.lstrip('! ')}: failed as expected: {exc}")
        return
    if fails:
        raise LabError(f"scenario action {line!r} was expected to fail and did not")
