"""Reading and atomically rewriting the lab's JSON files (stand-in states, lab.json).

Writers take an exclusive `flock` on `<file>.lock`, so the replicators (threads of the lab
daemon) and the `python -m lab` commands never lose each other's updates; readers (the
stand-ins, every request) only ever see a whole file thanks to write-then-rename.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def read(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write(path: Path, data: dict[str, Any]) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(f"{path}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def update(path: Path, fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read, change in place with `fn`, write back: under the file's lock."""
    with locked(path):
        data = read(path)
        fn(data)
        write(path, data)
        return data
