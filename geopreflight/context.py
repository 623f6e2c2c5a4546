"""What a check sees: the site it judges (or None for a deployment-wide row), the facts, the
run's time, and the outcomes of the checks it depends on (`depends_on`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .facts import Facts
from .inventory import Inventory, Site

if TYPE_CHECKING:
    from .catalog import Result

_THIS_SITE: Any = object()
Key = tuple[str, str | None, str | None]  # check id, site (None: the deployment), node


def targets(ctx: CheckContext, host_roles: tuple[str, ...], site: Site
            ) -> list[tuple[str, Site, str | None]]:
    """(label, site, node) of each row a check of `host_roles` is judged on for `site`, as
    seen from `ctx`: this row's own node for its own site; else each node of `site` running
    one of the roles (the site itself when none is named)."""
    same_node = ctx.host is not None and ctx.site is not None and ctx.site.name == site.name
    if same_node or not host_roles:
        return [(site.name, site, ctx.host)]
    named = [h.name for h in site.nodes(host_roles) if h.name]
    if not named:
        return [(site.name, site, None)]
    return [(f"{site.name} host {n}", site, n) for n in named]


@dataclass(frozen=True)
class CheckContext:
    site: Site | None
    inventory: Inventory
    facts: Facts
    profile: str
    host: str | None = None  # the node of `hosts:` this row judges; None: the site's default
    now: float = 0.0  # the run's time (epoch seconds): a re-judged bundle's, not the clock's
    # the outcomes of the checks in this check's `depends_on`, judged first (outcomes.py)
    outcomes: Mapping[Key, Result] = field(default_factory=dict, compare=False, repr=False)

    def outcome(self, check_id: str, site: Site, host: str | None) -> Result:
        """The result of a check this one depends on, for one of its rows (`targets`); what
        that check read counts as read by this one (the causes of an error, the probe time).
        A check not in `depends_on` was not judged for it: an error, never a guess."""
        result = self.outcomes.get((check_id, site.name, host))
        if result is None:
            raise LookupError(f"{check_id} for {site.name}{f' host {host}' if host else ''} "
                              "was not judged first: name it in the check's depends_on")
        note = getattr(self.facts, "note", None)  # the facts as the evaluation reads them
        if note is not None:
            note(result)
        return result

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
