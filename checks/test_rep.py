"""Geo replication of the container registry, as the primary's Geo status reports it."""

from __future__ import annotations

from geopreflight.catalog import Fail, check
from geopreflight.context import CheckContext
from geopreflight.geo import geo_match, status_of

GEO_REGISTRY = "https://docs.gitlab.com/administration/geo/replication/container_registry/"


def _status(ctx: CheckContext) -> dict:
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
def test_rep_001(ctx: CheckContext) -> str:
    value = _status(ctx).get("container_repositories_replication_enabled")
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
def test_rep_002(ctx: CheckContext) -> str:
    s = _status(ctx)
    failed = s.get("container_repositories_failed_count")
    synced = s.get("container_repositories_synced_count")
    total = s.get("container_repositories_registry_count")
    seen = f"failed {failed}, synced {synced} of {total}"
    if failed != 0 or synced is None or synced != total:
        raise Fail(f"{ctx.site.name}: container repositories {seen}", observed=seen,
                   expected=f"failed 0, synced {total} of {total}")
    return seen
