"""Probes gather facts from the deployment; they never write to it.

A probe is a function `(ProbeContext, Site | None) -> (value, source)` registered with
`@probe(key, scope)`; the value is the key's typed model (`models.FACT_MODELS`). It raises
`ProbeError` (or `Unreachable`) with a one-line reason when it cannot observe what it was
asked for; the fact then records the error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..http import Http
from ..inventory import Inventory, Site
from .models import FACT_MODELS


class ProbeError(Exception):
    """The probe could not observe its fact; the message says why, in one line."""

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(message)
        self.source = source


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


PROBES: list[Probe] = []


def probe(key: str, scope: str = "site") -> Callable[[ProbeFunc], ProbeFunc]:
    """Register a probe that every run gathers; its key must have a model."""
    if key not in FACT_MODELS:
        raise ValueError(f"probe {key}: no model in probes/models.py FACT_MODELS")

    def register(func: ProbeFunc) -> ProbeFunc:
        PROBES.append(Probe(key, scope, func))
        return func

    return register
