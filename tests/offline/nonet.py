"""A pytest plugin (`-p nonet`) that makes every socket and every name lookup fail, so a run
that still works proves it needs no network and no DNS."""

from __future__ import annotations

import socket


def _refuse(*_args: object, **_kw: object) -> None:
    raise OSError("nonet: networking and DNS are disabled in this run")


class _NoSocket(socket.socket):
    def __init__(self, *args: object, **kw: object) -> None:
        _refuse()


socket.socket = _NoSocket  # type: ignore[misc]
socket.create_connection = _refuse  # type: ignore[assignment]
socket.getaddrinfo = _refuse  # type: ignore[assignment]
socket.gethostbyname = _refuse  # type: ignore[assignment]
