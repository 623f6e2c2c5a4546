"""Detached processes, pidfiles and the clean-up that leaves nothing behind.

Every process the lab starts runs in its own session (so `up` returns and a Ctrl-C in the
terminal does not reach it) and gets a pidfile under the lab's `run/` directory, written the
moment it is spawned. `down` kills by pidfile and then sweeps `/proc` for any process whose
command line names the lab directory (what a killed `up` may have left before writing a pidfile).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from lab import ports


def spawn(name: str, argv: list[str], run_dir: Path, *, log: Path | None = None,
          env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start `argv` detached, record `run_dir/<name>.pid`, return the pid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    out = open(log or run_dir / f"{name}.log", "ab")  # the child keeps it
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                cwd=cwd, close_fds=True)
    finally:
        out.close()
    (run_dir / f"{name}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def spawn_listening(name: str, argv: list[str], run_dir: Path, port: int, what: str,
                    timeout: float, cwd: Path | None = None) -> int:
    """`spawn`, then wait until something listens on `port` (RuntimeError with the tail of
    its log when it dies or the timeout passes first)."""
    pid = spawn(name, argv, run_dir, cwd=cwd)
    deadline = time.monotonic() + timeout
    while not ports.listening(port):
        if not alive(pid) or time.monotonic() > deadline:
            log = run_dir / f"{name}.log"
            raise RuntimeError(f"{what} did not listen on {port}: "
                               + (log.read_text()[-800:] if log.exists() else ""))
        time.sleep(0.05)
    return pid


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def argv(pid: int) -> list[str]:
    """The process's arguments, exactly (paths with spaces stay whole)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def kill(pids: list[int], timeout: float = 3.0) -> None:
    """SIGTERM each process group (and process), wait, then SIGKILL what is left."""
    pids = [p for p in pids if p > 1 and p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            for fn in (os.killpg, os.kill):
                try:
                    fn(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in pids:
                _reap(pid)
            if not any(alive(p) for p in pids):
                return
            time.sleep(0.02)


def pids_naming(marker: str) -> list[int]:
    """Processes whose command line contains `marker` (the lab's absolute directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if marker in cmdline(int(entry.name)):
                found.append(int(entry.name))
    return found


def pidfile_pids(run_dir: Path) -> list[int]:
    """The pids recorded in `run_dir/*.pid` that are still alive."""
    pids = []
    for f in sorted(run_dir.glob("**/*.pid")):
        try:
            pid = int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if alive(pid):
            pids.append(pid)
    return pids


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks after boot, /proc/PID/stat field 22), or None if it is
    gone or a zombie: with the pid it names one process, even once the pid is reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] in ("Z", "X"):  # dead, not yet reaped
        return None
    return int(fields[19])
