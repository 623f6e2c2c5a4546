"""The one exception for bad input: it ends the run with exit code 4 and a clear message."""

from __future__ import annotations

USAGE_EXIT = 4


class UsageError(Exception):
    """Bad input (option, profile, inventory, secret): exit 4, message names file and line.

    >>> str(UsageError("expected a string", file="inv.yml", line=3))
    'inv.yml:3: expected a string'
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message, self.file, self.line = message, file, line
        where = file or ""
        if file and line is not None:
            where = f"{file}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
