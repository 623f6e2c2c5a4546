"""What a check sees: the site it judges (or None for a deployment-wide row) and the facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .facts import Facts
from .inventory import Inventory, Site

_THIS_SITE: Any = object()


@dataclass(frozen=True)
class CheckContext:
    site: Site | None
    inventory: Inventory
    facts: Facts
    profile: str
    step: str

    def fact(self, key: str, site: Any = _THIS_SITE) -> Any:
        """A fact's value for this row's site (or another site, or None for the deployment)."""
        if site is _THIS_SITE:
            site = self.site
        name = site.name if isinstance(site, Site) else site
        return self.facts.value(key, name)
