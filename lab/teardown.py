"""Teardown and reaping: `down` stops everything a lab runs (alive, dead or half-started);
`gc` takes down the labs nobody will take down: those whose directory is gone and those whose
owner (the process that brought them up, recorded in lab.json with its start time) is gone,
as after a killed test session. Imports only the model and the part drivers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from lab import ports, postgres, procs, state
from lab.model import LabError

LAB_PROGRAMS = ("docker-registry", "postgres", "initdb", "pg_ctl", "pg_basebackup", "runuser",
                "pgbouncer")


def owner_record(pid: int | None) -> dict[str, int] | None:
    """What lab.json keeps of a lab's owner: its pid and start time (so that a recycled pid is
    not taken for it); None for a persistent lab (a CLI `up` meant to outlive the command)."""
    if pid is None:
        return None
    start = procs.start_time(pid)
    if start is None:
        raise LabError(f"the owner process {pid} is not running")
    return {"pid": pid, "start": start}


def _abandoned(lab_dir: Path) -> str | None:
    """Why nobody will take this lab down, or None: its directory (lab.json) is gone, or its
    owner is (the pid is dead, a zombie, or now another process: a different start time)."""
    try:
        owner: dict[str, Any] | None = state.read(lab_dir / "lab.json").get("owner")
    except FileNotFoundError:
        return "directory gone"
    except (OSError, ValueError):
        return None  # unreadable: leave it to its owner
    if owner and procs.start_time(owner["pid"]) != owner["start"]:
        return f"owner {owner['pid']} gone"
    return None


def _ancestors() -> set[int]:
    """This process and its parents (a sweep must never kill the caller)."""
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def _ours(pid: int, markers: list[str]) -> bool:
    """A lab program (python, docker-registry, PostgreSQL's) with an argument that is one of
    the lab's directories or a path inside it."""
    argv = procs.argv(pid)
    if not argv:
        return False
    name = os.path.basename(argv[0])
    if not (name.startswith("python") or name in LAB_PROGRAMS):
        return False
    return any(a == m or a.startswith(m + "/") for a in argv for m in markers)


def _pg_roots(lab_dir: Path) -> list[Path]:
    """The cluster directories of this lab: the one `run/pgroot` names, and any /tmp/gpl-*
    whose `owner` is this lab (left by an `up` killed before it wrote run/pgroot, or when the
    lab directory itself is gone)."""
    roots = []
    named = lab_dir / "run" / "pgroot"
    if named.exists():
        roots.append(Path(named.read_text().strip()))
    for owner in Path("/tmp").glob("gpl-*/owner"):
        try:
            if owner.read_text().strip() == str(lab_dir) and owner.parent not in roots:
                roots.append(owner.parent)
        except OSError:
            continue
    return [r for r in roots if r.exists()]


def down(lab_dir: Path, quiet: bool = False) -> list[str]:
    """Stop everything a lab (alive, dead or half-started) runs; returns what was stopped."""
    lab_dir = Path(lab_dir).resolve()
    run = lab_dir / "run"
    stopped: list[str] = []
    pg_roots = _pg_roots(lab_dir)
    for root in pg_roots:
        for data in sorted(root.glob("*/data")):
            pid = postgres.postmaster_pid(data)
            if pid and procs.alive(pid):
                postgres.stop(data)
                stopped.append(f"postgres {data}")
    pids = procs.pidfile_pids(run) + procs.pidfile_pids(lab_dir / "sites")
    if pids:
        procs.kill(pids)
        stopped += [f"pid {p}" for p in pids]
    markers = [str(lab_dir)] + [str(r) for r in pg_roots]
    skip = _ancestors()
    strays = sorted({p for m in markers for p in procs.pids_naming(m)
                     if p not in skip and _ours(p, markers)})
    if strays:
        procs.kill(strays)
        stopped += [f"stray {p}" for p in strays]
    for f in list(run.glob("*.pid")) + list((lab_dir / "sites").glob("*/run/*.pid")):
        f.unlink(missing_ok=True)
    (run / "ready").unlink(missing_ok=True)
    for f in (lab_dir / "sites").glob("*/run/replication.ready"):
        f.unlink()
    for root in pg_roots:
        shutil.rmtree(root, ignore_errors=True)
    if (lab_dir / "lab.json").exists():
        try:
            model = state.update(lab_dir / "lab.json", lambda d: d.update(status="down"))
            ports.release([c["port"] for c in model["clusters"]]
                          + [p for s in model["sites"] for p in s["ports"].values()])
        except (OSError, ValueError, KeyError):
            pass
    if not quiet:
        for line in stopped:
            print(f"stopped {line}")
    return stopped


def gc(quiet: bool = True) -> dict[str, str]:
    """Take down every lab nobody will take down: its directory is gone (a killed test
    session's temporary directory, since removed) or its owner process is (a killed test
    session); returns lab directory -> why. Persistent labs and labs whose owner runs are
    left alone. Every `up` runs it first, so the next session cleans what a killed one left."""
    candidates: set[Path] = set()
    for owner in Path("/tmp").glob("gpl-*/owner"):  # clusters
        try:
            candidates.add(Path(owner.read_text().strip()))
        except OSError:
            continue
    for entry in Path("/proc").iterdir():  # daemons and registries
        if not entry.name.isdigit():
            continue
        args = procs.argv(int(entry.name))
        if len(args) >= 5 and args[1:3] == ["-m", "lab.daemon"] and args[3] == "--dir":
            candidates.add(Path(args[4]))
        elif len(args) == 3 and os.path.basename(args[0]) == "docker-registry" and \
                args[2].endswith("/run/registry.yml"):
            candidates.add(Path(args[2]).parents[3])
    gone = {}
    for lab_dir in sorted(candidates):
        why = _abandoned(lab_dir)
        if why:
            down(lab_dir, quiet=quiet)
            gone[str(lab_dir)] = why
    return gone


