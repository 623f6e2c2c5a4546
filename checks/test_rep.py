"""Geo replication of the container registry, as the primary's Geo status reports it."""

from __future__ import annotations

from geopreflight.catalog import CannotEvaluate, Fail, NotApplicable, check
from geopreflight.context import CheckContext
from geopreflight.facts import FactError
from geopreflight.probes.models import CanaryPushed, CanarySeen, GeoStatus

from ._geo import geo_match, status_of

GEO_REGISTRY = "https://docs.gitlab.com/administration/geo/replication/container_registry/"


def _status(ctx: CheckContext) -> GeoStatus:
    m = geo_match(ctx, ctx.site)
    if m.geo_site is None:
        raise Fail(f"{ctx.site.name} is not a Geo site", observed="no Geo site",
                   expected="a Geo secondary")
    status = status_of(ctx, m.geo_site)
    if status is None:
        raise Fail(f"{ctx.site.name} has no Geo status", observed="no status",
                   expected="a Geo status")
    return status


@check("REP-001", title="Container registry replication is enabled on the secondary",
       severity="critical", roles=("secondary",),
       rationale="The secondary's Geo status reports container_repositories_replication_enabled "
                 "from geo.registry_replication.enabled (fact sheet, D4, E3, A6).",
       remediation="Set gitlab_rails['geo_registry_replication_enabled'] = true and "
                   "geo_registry_replication_primary_api_url on the secondary, reconfigure.",
       doc=GEO_REGISTRY)
def test_rep_001_replication_enabled(ctx: CheckContext) -> str:
    value = _status(ctx).container_repositories_replication_enabled
    if value is not True:
        raise Fail(f"{ctx.site.name}: container_repositories_replication_enabled is {value}",
                   observed=value, expected=True)
    return "container_repositories_replication_enabled: true"


@check("REP-002", title="Container repositories are synced, none failed", severity="high",
       roles=("secondary",),
       rationale="Replication works when the secondary's status shows no failed container "
                 "repository and synced equal to the registry count (fact sheet, E3, D4).",
       remediation="Look at Admin > Geo > Sites > Replication Details > Container "
                   "Repositories on the secondary, fix the failures (geo.log) and Resync.",
       doc=GEO_REGISTRY)
def test_rep_002_repositories_synced(ctx: CheckContext) -> str:
    s = _status(ctx)
    failed = s.container_repositories_failed_count
    synced = s.container_repositories_synced_count
    total = s.container_repositories_registry_count
    seen = f"failed {failed}, synced {synced} of {total}"
    if failed != 0 or synced is None or synced != total:
        raise Fail(f"{ctx.site.name}: container repositories {seen}", observed=seen,
                   expected=f"failed 0, synced {total} of {total}")
    return seen


@check("REP-003", title="A canary image pushed to the primary reaches the secondary",
       severity="high", roles=("secondary",),
       rationale="The Geo status counts registry rows, so it can show 100% while updates are "
                 "not synced (fact sheet, E2, E3); only an image pushed to the primary and "
                 "pulled, with the same digest, from the secondary proves replication end to "
                 "end. Runs only with --canary, the one option that writes.",
       remediation="Check the primary's geo_event notification endpoint (HOST-004), the "
                   "secondary's replication settings (HOST-005, REG-012) and geo.log on the "
                   "secondary; resync the repository in Admin > Geo.",
       doc=GEO_REGISTRY)
def test_rep_003_canary_reaches_secondary(ctx: CheckContext) -> str:
    if not ctx.facts.has("canary.pushed"):
        raise NotApplicable("no canary was pushed: run with --canary to prove replication "
                            "end to end (it writes one tiny image)")
    try:
        pushed: CanaryPushed = ctx.fact("canary.pushed", None)
    except FactError as exc:  # nothing was pushed, so nothing could replicate: unknown
        raise CannotEvaluate(f"{ctx.site.name}: the canary could not be pushed to the "
                             f"primary's registry ({ctx.inventory.primary.name}): {exc}") from None
    name = f"{pushed.repository}:{pushed.tag}"
    try:
        seen: CanarySeen = ctx.fact("canary.seen")
    except FactError as exc:
        raise Fail(f"{ctx.site.name}: {exc}", observed="not replicated",
                   expected=f"{name} with digest {pushed.digest}") from None
    return f"{name} arrived with the same digest after {seen.seconds} s"
