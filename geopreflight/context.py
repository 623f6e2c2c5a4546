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
    host: str | None = None  # the node of `hosts:` this row judges; None: the site's default

    def fact(self, key: str, site: Any = _THIS_SITE) -> Any:
        """A fact's value for this row's site (or another site, or None for the deployment).

        A fact gathered per node (the `host.*` facts, registry.primary_api) is this row's
        node's, or for another site (or a row of no node) the site's default node: the
        registry node of `hosts:`, the one `host:`."""
        if site is _THIS_SITE:
            site = self.site
        if isinstance(site, str):
            site = next((s for s in self.inventory.sites if s.name == site), site)
        name = site.name if isinstance(site, Site) else site
        host = None
        if isinstance(site, Site) and self.facts.per_node(key):
            same = self.site is not None and site.name == self.site.name
            host = self.host if same and self.host else (site.host.name if site.host else None)
        return self.facts.value(key, name, host)
