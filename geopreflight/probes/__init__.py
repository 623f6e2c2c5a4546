"""Probes gather facts from the deployment; they never write to it.

A probe is a function `(ProbeContext, Site | None) -> (value, source)` registered with
`@probe(key, scope)`; the value is the key's typed model (`models.FACT_MODELS`). It raises
`ProbeError` (or `Unreachable`) with a one-line reason and its `ProbeFailure` (kind, target,
status, cause) when it cannot observe what it was asked for; the fact records both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..failures import Kind, ProbeFailure, request
from ..http import Http, Unreachable
from ..inventory import Inventory, Site
from .models import FACT_MODELS


class ProbeError(Exception):
    """The probe could not observe its fact; the message says why, in one line, and
    `failure` the same as fields (by default an OTHER failure whose cause is the message)."""

    def __init__(self, message: str, source: str = "",
                 failure: ProbeFailure | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.failure = failure or ProbeFailure(Kind.OTHER, message)


def request_error(method: str, url: str, cause: str, source: str | None = None, *,
                  status: int | None = None, kind: Kind | None = None) -> ProbeError:
    """`METHOD url: cause` as a ProbeError (source: the URL unless given), with its failure
    (`failures.request`: the status decides the kind unless it is given)."""
    failure = request(method, url, cause, status, kind)
    return ProbeError(failure.line, url if source is None else source, failure)


def wrapped(prefix: str, exc: Unreachable, source: str) -> ProbeError:
    """A request's failure inside a probe's own sentence, `prefix: <the request's message>`:
    that sentence (without errno numbers) is the failure's cause, no longer a request."""
    return ProbeError(f"{prefix}: {exc}", source,
                      replace(exc.failure, cause=f"{prefix}: {exc.plain}", method=""))


@dataclass
class ProbeContext:
    inventory: Inventory
    http: Http
    cache: dict[Any, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Release what the probes opened for this run (SSH connections)."""
        for value in self.cache.values():
            if callable(getattr(value, "close", None)):
                value.close()


ProbeFunc = Callable[[ProbeContext, Site | None], tuple[Any, str]]


@dataclass(frozen=True)
class Probe:
    key: str
    scope: str  # "site", "host" (once per node, the node as `site.host`) or "deployment"
    func: ProbeFunc
    # a site probe only some sites' inventory asks for (None: every site's)
    applies: Callable[[Site], bool] | None = None


PROBES: list[Probe] = []


def probe(key: str, scope: str = "site", applies: Callable[[Site], bool] | None = None
          ) -> Callable[[ProbeFunc], ProbeFunc]:
    """Register a probe that every run gathers (a site probe with `applies`: for the sites
    it is true of, so a fact no check of that site reads is neither gathered nor recorded);
    its key must have a model."""
    if key not in FACT_MODELS:
        raise ValueError(f"probe {key}: no model in probes/models.py FACT_MODELS")

    def register(func: ProbeFunc) -> ProbeFunc:
        PROBES.append(Probe(key, scope, func, applies))
        return func

    return register
