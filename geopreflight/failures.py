"""Why a probe could not observe its fact, as fields: what kind of failure, what it asked
(`target`), the HTTP status if one came, and the reason in one line.

The probe's message (the fact's `error`) stays the sentence people read; the reports group
causes, name the target and choose the fix from these fields, never from the sentence.
Imports nothing of the package, so the HTTP layer, the probes, the facts and the reports can
all share it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What went wrong, in the few classes a report treats differently."""

    REFUSED = "refused"      # no connection: refused, reset, no route, SSH not let in
    TIMEOUT = "timeout"      # no connection or no answer within the timeout
    DEADLINE = "deadline"    # answering, but not done within the total deadline
    TLS = "tls"              # the certificate did not verify
    DNS = "dns"              # the name does not resolve
    AUTH = "auth"            # 401 or 403, or credentials the server did not accept
    HTTP_STATUS = "http-status"  # an answer, with a status other than the expected ones
    TOO_LARGE = "too-large"  # over a size cap (a body, a file, a fact)
    NOT_SENT = "not-sent"    # refused unsent (bad URL, credentials for another origin)
    INTERRUPTED = "interrupted"  # the run was cancelled (Ctrl-C)
    PARSE = "parse"          # an answer that is not the expected shape
    MISSING = "missing"      # the inventory or the node lacks what the probe needs
    NO_TOOL = "no-tool"      # a program the probe runs is not installed where it runs
    OTHER = "other"


# the kinds the reports call "unreachable": the component did not answer at all
UNREACHABLE = frozenset({Kind.REFUSED, Kind.TIMEOUT, Kind.TLS, Kind.DNS})


@dataclass(frozen=True)
class ProbeFailure:
    """One failure. `method` is set for a request this client sent (GET, HEAD, POST, PUT):
    its message then reads `METHOD target: ...` and the reports name the target's origin.
    `cause` is the reason as the reports show it (no errno numbers)."""

    kind: Kind
    cause: str
    target: str = ""
    status: int | None = None
    method: str = ""

    @property
    def line(self) -> str:
        """The failure in one line, as its message reads (but for errno numbers)."""
        return f"{self.method} {self.target}: {self.cause}" if self.method else self.cause

    def redacted(self, text: Callable[[str], str]) -> ProbeFailure:
        """The failure with its texts passed through the run's redactor."""
        return replace(self, cause=text(self.cause), target=text(self.target))

    def as_dict(self) -> dict[str, Any]:
        """The fact's `failure` in facts.json; `method` only for a request."""
        return {"kind": str(self.kind), "target": self.target, "status": self.status,
                "cause": self.cause, **({"method": self.method} if self.method else {})}

    @classmethod
    def from_dict(cls, data: Any) -> ProbeFailure:
        """A recorded failure; ValueError names the field that does not fit."""
        if not isinstance(data, dict):
            raise ValueError("expected an object")
        extra = sorted(set(data) - {"kind", "target", "status", "cause", "method"})
        if extra:
            raise ValueError(f"{str(extra[0])[:40]}: not a field of a failure")
        try:
            kind = Kind(data.get("kind"))
        except ValueError:
            raise ValueError("kind: expected one of " + ", ".join(Kind)) from None
        for name in ("cause", "target", "method"):
            if not isinstance(data.get(name, ""), str):
                raise ValueError(f"{name}: expected a string")
        status = data.get("status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
            raise ValueError("status: expected an integer or null")
        return cls(kind, data.get("cause", ""), data.get("target", ""), status,
                   data.get("method", ""))


def request(method: str, url: str, cause: str, status: int | None = None,
            kind: Kind | None = None) -> ProbeFailure:
    """A request's failure, its message `METHOD url: cause`; without `kind`, an answer's
    status decides it: AUTH for 401 and 403, else HTTP_STATUS."""
    if kind is None:
        assert status is not None, "a failure without a status names its kind"
        kind = status_kind(status)
    return ProbeFailure(kind, cause, url, status, method)


def status_kind(status: int) -> Kind:
    """The kind of an answer with an unexpected status: AUTH for 401 and 403."""
    return Kind.AUTH if status in (401, 403) else Kind.HTTP_STATUS
