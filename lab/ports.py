"""Free TCP ports on 127.0.0.1, picked outside the kernel's ephemeral range.

Ports from the ephemeral range can be taken by any outgoing connection between the pick and the
bind, so the lab picks at random below it and checks that the port binds now. Each pick is also
remembered in this process, so one `up` never hands out the same port twice.
"""

from __future__ import annotations

import random
import socket

_LOW, _HIGH = 20000, 32000
_given: set[int] = set()


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port that nothing listens on right now and that this process has not handed out."""
    rng = random.SystemRandom()
    for _ in range(1000):
        port = rng.randrange(_LOW, _HIGH)
        if port not in _given and _free(port):
            _given.add(port)
            return port
    raise RuntimeError("no free port found in 127.0.0.1:20000-32000")


def listening(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True if something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
