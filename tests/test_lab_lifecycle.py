"""Up and down: fast, nothing left behind (also after a killed `up` or a killed test session),
loopback only."""

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
OWNER = ("--owner", str(os.getpid()))  # the CLI's labs live with this session, as fixtures' do


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
    res = cli("up", "--scenario", "legacy-both", "--dir", str(d), *OWNER)
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
                             "--dir", str(d), *OWNER], cwd=REPO, stdout=subprocess.DEVNULL,
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
    assert cli("up", "--scenario", "no-data", "--dir", str(d), *OWNER).returncode == 0
    old_root = Path((d / "run" / "pgroot").read_text().strip())
    old_pids = procs.pidfile_pids(d / "sites") + [
        p for p in procs.pids_naming(str(old_root) + "/") if procs.alive(p)]
    assert old_pids
    os.kill(int((d / "run" / "daemon.pid").read_text()), signal.SIGKILL)  # the lab "crashes"
    res = cli("up", "--scenario", "no-data", "--dir", str(d), *OWNER)
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
    assert res.returncode == 0 and f"{d} (directory gone)" in res.stdout
    assert leftovers(d, pg_root) == [] and not pg_root.exists()
    assert [p for p in lab_ports_before if ports.listening(p)] == []


def test_status_command(lab):
    d = lab("replication-failing")
    res = cli("status", "--dir", str(d.dir))
    assert res.returncode == 0, res.stderr
    assert "daemon (stand-ins, fronts, replicators): running" in res.stdout
    assert "replication 1/2 synced, 1 failed" in res.stdout
    assert "database.enabled=false, read-only=on, lockfiles=filesystem-in-use" in res.stdout


CHILD_SESSION = """
import time


def test_hold(lab):
    print("LAB", lab("new-instance").dir, flush=True)
    time.sleep(600)
"""


def killed_session(tmp_path: Path) -> tuple[Path, Path, int]:
    """A test session (a child pytest with the lab fixture) that brings up a lab and is
    SIGKILLed while holding it; returns the lab's directory, its clusters' directory and the
    session's pid. The lab keeps running (checked), as 200+ of them once did."""
    (tmp_path / "test_child.py").write_text(CHILD_SESSION)
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p",
         "lab.fixtures", "--basetemp", str(tmp_path / "child"), "test_child.py"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    try:
        out = ""
        while "LAB " not in out:
            line = child.stdout.readline()
            assert line, f"the child session ended before its lab was up:\n{out}"
            out += line
        d = Path(out.split("LAB ", 1)[1].split()[0])
    finally:
        child.kill()
        child.wait()
    pg_root = Path((d / "run" / "pgroot").read_text().strip())
    assert leftovers(d, pg_root), "the killed session's lab runs on (or the test is moot)"
    return d, pg_root, child.pid


def test_gc_takes_down_the_labs_of_a_killed_session(tmp_path):
    d, pg_root, pid = killed_session(tmp_path)
    assert (d / "lab.json").exists(), "the directory is still there: only the owner is gone"
    res = cli("gc")
    assert res.returncode == 0, res.stderr
    assert f"took down the lab of {d} (owner {pid} gone)" in res.stdout
    assert leftovers(d, pg_root) == [] and not pg_root.exists()


def test_the_next_up_takes_down_the_labs_of_a_killed_session(tmp_path):
    """... and leaves alone a persistent lab (a CLI `up` without --owner) and labs whose
    owner runs; an owner pid now held by another process (another start time) is gone."""
    d, pg_root, _ = killed_session(tmp_path)
    mine = tmp_path / "persistent"
    res = cli("up", "--scenario", "new-instance", "--dir", str(mine))
    try:
        assert res.returncode == 0, res.stderr
        assert leftovers(d, pg_root) == [] and not pg_root.exists()
        my_root = Path((mine / "run" / "pgroot").read_text().strip())
        assert str(mine) not in cli("gc").stdout and leftovers(mine, my_root)
        model = json.loads((mine / "lab.json").read_text())
        assert model["owner"] is None
        # owned by this live session: kept; by a recycled pid (same pid, other start): reaped
        start = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
        for owner, kept in ((start, True), (start - 1, False)):
            model["owner"] = {"pid": os.getpid(), "start": owner}
            (mine / "lab.json").write_text(json.dumps(model))
            res = cli("gc")
            assert (str(mine) not in res.stdout) is kept, res.stdout
        assert f"{mine} (owner {os.getpid()} gone)" in res.stdout
        assert_nothing_left(mine, my_root)
    finally:
        cli("down", "--dir", str(mine))
