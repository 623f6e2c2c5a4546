"""Free TCP ports on 127.0.0.1, picked outside the kernel's ephemeral range.

Ports from the ephemeral range can be taken by any outgoing connection between the pick and the
bind, so the lab picks at random below it and checks that the port binds now. Two labs coming up
at the same time (parallel tests) could still pick the same port before either binds it, so each
pick is also reserved with a file in /tmp/geopreflight-lab-ports (created exclusively). A
reservation whose port is not listening a minute later is stale and may be taken again.
"""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path

_LOW, _HIGH = 20000, 32000
RESERVATIONS = Path("/tmp/geopreflight-lab-ports")
STALE_S = 60.0


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _reserve(port: int, owner: str) -> bool:
    RESERVATIONS.mkdir(mode=0o755, exist_ok=True)
    path = RESERVATIONS / str(port)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            stale = time.time() - path.stat().st_mtime > STALE_S and not listening(port)
        except FileNotFoundError:
            stale = True
        if not stale:
            return False
        path.unlink(missing_ok=True)
        return _reserve_once(path, owner)
    with os.fdopen(fd, "w") as fh:
        fh.write(owner + "\n")
    return True


def _reserve_once(path: Path, owner: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(owner + "\n")
    return True


def free_port(owner: str = "") -> int:
    """A port that nothing listens on right now and that no other lab has reserved."""
    rng = random.SystemRandom()
    for _ in range(1000):
        port = rng.randrange(_LOW, _HIGH)
        if _free(port) and _reserve(port, owner or str(os.getpid())):
            return port
    raise RuntimeError("no free port found in 127.0.0.1:20000-32000")


def release(ports: list[int]) -> None:
    """Drop the reservations of ports a lab no longer uses."""
    for port in ports:
        (RESERVATIONS / str(port)).unlink(missing_ok=True)


def listening(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True if something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
