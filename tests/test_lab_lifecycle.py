"""Up and down: fast, nothing left behind (also after a killed `up`), loopback only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import ports, procs, scenario

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout)


def lab_ports(lab_dir: Path) -> list[int]:
    model = json.loads((lab_dir / "lab.json").read_text())
    out = [c["port"] for c in model["clusters"]]
    for s in model["sites"]:
        out += list(s["ports"].values())
    return out


def leftovers(lab_dir: Path, pg_root: Path) -> list[str]:
    found = []
    for marker in (str(lab_dir) + "/", str(pg_root) + "/"):
        found += [f"{p}: {procs.cmdline(p)}" for p in procs.pids_naming(marker) if procs.alive(p)]
    return found


def assert_nothing_left(lab_dir: Path, pg_root: Path) -> None:
    assert leftovers(lab_dir, pg_root) == []
    assert not pg_root.exists(), "the clusters' directory is gone"
    if (lab_dir / "lab.json").exists():
        assert [p for p in lab_ports(lab_dir) if ports.listening(p)] == []


def test_up_and_down_by_the_cli(tmp_path):
    d = tmp_path / "lab"
    t = time.monotonic()
    res = cli("up", "--scenario", "legacy-both", "--dir", str(d))
    up_s = time.monotonic() - t
    assert res.returncode == 0, res.stderr
    assert up_s < 10, f"up took {up_s:.1f}s"
    assert (d / "inventory.yml").exists() and (d / "env").stat().st_mode & 0o077 == 0
    pg_root = Path((d / "run" / "pgroot").read_text().strip())
    assert all(ports.listening(p) for p in lab_ports(d))
    t = time.monotonic()
    res = cli("down", "--dir", str(d))
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - t < 5
    assert_nothing_left(d, pg_root)


def test_down_after_a_killed_up_leaves_nothing(tmp_path):
    d = tmp_path / "lab"
    proc = subprocess.Popen([sys.executable, "-m", "lab", "up", "--scenario", "legacy-both",
                             "--dir", str(d)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not (d / "sites" / "us-secondary" / "run" / "registry.pid").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    pg_root = Path((d / "run" / "pgroot").read_text().strip())
    time.sleep(0.5)  # let orphaned start-ups get going
    assert leftovers(d, pg_root), "the killed up left processes behind (or the test is moot)"
    res = cli("down", "--dir", str(d))
    assert res.returncode == 0, res.stderr
    assert_nothing_left(d, pg_root)


def test_up_into_the_dir_of_a_dead_lab_cleans_up_first(tmp_path):
    d = tmp_path / "lab"
    assert cli("up", "--scenario", "no-data", "--dir", str(d)).returncode == 0
    old_root = Path((d / "run" / "pgroot").read_text().strip())
    old_pids = procs.pidfile_pids(d / "sites") + [
        p for p in procs.pids_naming(str(old_root) + "/") if procs.alive(p)]
    assert old_pids
    os.kill(int((d / "run" / "daemon.pid").read_text()), signal.SIGKILL)  # the lab "crashes"
    res = cli("up", "--scenario", "no-data", "--dir", str(d))
    assert res.returncode == 0, res.stderr
    new_root = Path((d / "run" / "pgroot").read_text().strip())
    assert new_root != old_root and not old_root.exists()
    assert [p for p in old_pids if procs.alive(p)] == []
    assert cli("down", "--dir", str(d)).returncode == 0
    assert_nothing_left(d, new_root)


def _listening_sockets() -> dict[int, tuple[str, str]]:
    """inode -> (family, local address) of every listening TCP socket."""
    out = {}
    for fam in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{fam}").read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A":
                out[int(f[9])] = (fam, f[1])
    return out


def test_everything_listens_on_loopback_only(lab):
    d = lab("legacy-both")
    run = d.dir / "run"
    pids = procs.pidfile_pids(run) + procs.pidfile_pids(d.dir / "sites")
    pg_root = (run / "pgroot").read_text().strip()
    pids += [p for p in procs.pids_naming(pg_root + "/") if procs.alive(p)]
    socks = _listening_sockets()
    seen = []
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in socks:
                    seen.append(socks[inode])
    assert len(seen) >= len(lab_ports(d.dir))
    for fam, addr in seen:
        assert fam == "tcp" and addr.split(":")[0] == "0100007F", (fam, addr)


def test_two_labs_side_by_side(lab):
    a, b = lab("legacy-both"), lab("both-imported")
    assert not set(lab_ports(a.dir)) & set(lab_ports(b.dir))
    assert a.api(a.primary.name, "version")["version"] == b.api(b.primary.name, "version")[
        "version"]
    assert a.primary.token != b.primary.token, "secrets are random per run"


def test_scenarios_command_lists_every_builtin():
    res = cli("scenarios")
    assert res.returncode == 0
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert names == scenario.builtin_names()
    required = {"new-instance", "add-registry-to-geo", "add-geo-and-registry",
                "add-geo-external-db", "add-geo-default-db", "migrate-legacy", "legacy-both",
                "secondary-imported", "both-imported", "old-version", "replica-db", "shared-db",
                "bundled-db", "registry-disabled-on-secondary", "not-read-only",
                "replication-failing", "no-data"}
    assert required <= set(names)


def test_gc_takes_down_a_lab_whose_directory_is_gone(tmp_path):
    d = tmp_path / "lab"
    assert cli("up", "--scenario", "no-data", "--dir", str(d)).returncode == 0
    pg_root = Path((d / "run" / "pgroot").read_text().strip())
    lab_ports_before = lab_ports(d)
    subprocess.run(["rm", "-rf", str(d)], check=True)  # e.g. a temporary directory cleaned up
    assert leftovers(d, pg_root)
    res = cli("gc")  # what the lab fixture runs at session start
    assert res.returncode == 0 and str(d) in res.stdout
    assert leftovers(d, pg_root) == [] and not pg_root.exists()
    assert [p for p in lab_ports_before if ports.listening(p)] == []


def test_status_command(lab):
    d = lab("replication-failing")
    res = cli("status", "--dir", str(d.dir))
    assert res.returncode == 0, res.stderr
    assert "daemon (stand-ins, fronts, replicators): running" in res.stdout
    assert "replication 1/2 synced, 1 failed" in res.stdout
    assert "database.enabled=false, read-only=on, lockfiles=filesystem-in-use" in res.stdout
