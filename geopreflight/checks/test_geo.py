"""Geo: roles, health, and whether each site answers at its own URL."""

from __future__ import annotations

from datetime import datetime

from geopreflight.catalog import CannotEvaluate, Fail, Warn, check
from geopreflight.context import CheckContext
from geopreflight.facts import FactError
from geopreflight.i18n import _
from geopreflight.probes.models import GeoSites, GeoStatus

from . import GEO_PAGE, GEO_SETUP, GEO_SITES_API, GEO_TROUBLESHOOTING
from ._geo import geo_match, geo_sites_of, missing_sites, status_of

STATUS_MAX_AGE_S = 3600


@check("GEO-001", title="Geo is configured with exactly one primary", severity="critical",
       scope="deployment",
       rationale="Every scenario but the add-geo ones starts with Geo configured "
                 "(https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/); the Geo sites API (asked of the "
                 "primary) must list exactly one primary site (https://docs.gitlab.com/api/"
                 "geo_sites/).",
       remediation="Set up Geo: one primary (gitlab-ctl set-geo-primary-node) and the "
                   "secondaries added in Admin > Geo > Sites.",
       doc=GEO_SETUP)
def test_geo_001_exactly_one_primary(ctx: CheckContext) -> str:
    sites: GeoSites = ctx.fact("geo.sites", None)
    primaries = [g.name for g in sites if g.primary]
    if len(primaries) != 1:
        raise Fail(_("the Geo sites API lists {count} site(s) and {count2} primaries "
                     "({value})").format(
                       count=len(sites), count2=len(primaries),
                       value=', '.join(map(str, primaries)) or 'none'),
                   observed=f"{len(primaries)} primaries", expected="exactly 1 primary")
    return _("{count} Geo site(s); primary {value!r}").format(
               count=len(sites), value=primaries[0])


@check("GEO-002", title="The site is a Geo site with the expected role", severity="critical",
       rationale="The procedure's steps differ per role (the import runs on the secondary first); "
                 "the inventory's role must be the role GitLab gives the site. Sites are matched "
                 "by name (geo_node_name, else external_url), then url/internal_url "
                 "(https://docs.gitlab.com/api/geo_sites/).",
       remediation="Make the Geo site's name equal the site's geo_node_name (or external_url) "
                   "and fix the inventory's name or role, or add the site in Admin > Geo.",
       doc=GEO_SITES_API)
def test_geo_002_site_has_expected_role(ctx: CheckContext) -> str:
    site = ctx.site
    m = geo_match(ctx, site)
    if m.geo_site is None:
        raise Fail(_("{site} ({url}) matches no Geo site by name, url or internal_url").format(
                       site=site.name, url=site.gitlab.url),
                   observed="not a Geo site", expected=f"a Geo {site.role}")
    role = "primary" if m.geo_site.primary else "secondary"
    if role != site.role:
        raise Fail(_("{site} is {describe}, whose role is {role}; the inventory expects "
                     "{role2}").format(
                       site=site.name, describe=m.describe(), role=role, role2=site.role),
                   observed=role, expected=site.role)
    return f"{m.describe()}, {role}"


def _age_s(status: GeoStatus, now: float) -> float | None:
    """The status's age at the run's time (a re-judged bundle's, not today's clock)."""
    ts = status.last_successful_status_check_timestamp
    if isinstance(ts, int | float):
        return now - ts
    updated = status.updated_at
    if isinstance(updated, str):
        try:
            return now - datetime.fromisoformat(updated.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


@check("GEO-003", title="The secondary is healthy", severity="critical", roles=("secondary",),
       rationale="GitLab counts a Geo site healthy when its status is fresher than an hour and its "
                 "health message is blank or Healthy; health_status is only Healthy or Unhealthy "
                 "while health carries the error text (https://docs.gitlab.com/api/geo_sites/, "
                 "https://gitlab.com/gitlab-org/gitlab/-/blob/master/ee/app/models/"
                 "geo_node_status.rb).",
       remediation="Run gitlab-rake gitlab:geo:check on the secondary and fix what it reports; "
                   "see Geo troubleshooting.",
       doc=GEO_TROUBLESHOOTING)
def test_geo_003_secondary_is_healthy(ctx: CheckContext) -> str:
    site = ctx.site
    m = geo_match(ctx, site)
    if m.geo_site is None:
        raise Fail(_("{site} is not a Geo site, so it has no health").format(site=site.name),
                   observed="no Geo site", expected="a healthy Geo secondary")
    status = status_of(ctx, m.geo_site)
    if status is None:
        raise Fail(_("{site} has no Geo status: it has not reported to the primary").format(
                       site=site.name),
                   observed="no status", expected="a healthy status")
    age = _age_s(status, ctx.now)
    if age is None:
        raise CannotEvaluate(_("{site}'s Geo status has no usable timestamp").format(
                                 site=site.name))
    problems = []
    if status.healthy is not True:
        problems.append(f"healthy is {status.healthy}")
    if status.health_status != "Healthy":
        problems.append(f"health_status is {status.health_status!r}")
    if age > STATUS_MAX_AGE_S:
        problems.append(_("the status is {value} minutes old").format(value=int(age // 60)))
    if problems:
        health = status.health or _("no health text")
        raise Fail(_("{site} is unhealthy: {names}; GitLab says: {health}").format(
                       site=site.name, names='; '.join(problems), health=health),
                   observed=health, expected="Healthy, status fresher than an hour")
    return _("Healthy, status {value} s old").format(value=int(age))


@check("GEO-004", title="No Geo site exists yet", severity="high", scope="deployment",
       rationale="The add-geo scenarios start from an instance without Geo; an existing Geo site "
                 "means the deployment is not in the scenario's starting state (scenarios 3-5 of "
                 "https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/).",
       remediation="Use the profile that matches the deployment (add-registry-to-geo or "
                   "migrate-legacy when Geo is already configured).",
       doc=GEO_PAGE)
def test_geo_004_no_geo_site_yet(ctx: CheckContext) -> str:
    sites: GeoSites = ctx.fact("geo.sites", None)
    if len(sites):
        names = ", ".join(str(g.name) for g in sites)
        raise Fail(_("Geo is already configured: {count} Geo site(s) ({names})").format(
                       count=len(sites), names=names),
                   observed=f"{len(sites)} Geo sites", expected="no Geo site")
    return _("no Geo site")


@check("GEO-005", title="Every Geo site is in the inventory", severity="high",
       scope="deployment",
       rationale="A Geo site missing from the inventory is not checked at all, and the primary's "
                 "GET /geo_sites lists every site (https://docs.gitlab.com/api/geo_sites/). "
                 "Where the order of the sites matters (importing the primary after every "
                 "secondary, configuring and verifying replication to every secondary, "
                 "https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/) a site left out would pass unseen, "
                 "so the profiles require it there; elsewhere a partial run only warns.",
       remediation="Add the missing sites to the inventory (with its host and metadata_db).",
       doc=GEO_SITES_API)
def test_geo_005_every_geo_site_in_inventory(ctx: CheckContext) -> str:
    sites = geo_sites_of(ctx)
    missing = missing_sites(ctx)
    if missing:
        raise Fail(_("Geo site(s) not in the inventory: {names}").format(
                       names=', '.join(missing)),
                   observed=", ".join(missing), expected="every Geo site in the inventory")
    return _("all {count} Geo site(s) are in the inventory").format(count=len(sites))


@check("GEO-006", title="GitLab answers at the site's own URL", severity="critical",
       rationale="A site that does not answer cannot be judged, and an operator cannot run the "
                 "step there. The request goes to the site's own URL even though a secondary "
                 "proxies it onward (https://docs.gitlab.com/development/geo/proxying/).",
       remediation="Make the site's GitLab reachable from where geopreflight runs (DNS, "
                   "firewall, TLS, Puma/Workhorse running), or fix gitlab.url in the inventory.",
       doc=GEO_SITES_API)
def test_geo_006_gitlab_answers_at_own_url(ctx: CheckContext) -> str:
    try:
        ctx.fact("gitlab.own_answer")
    except FactError as exc:
        raise CannotEvaluate(_("{site} does not answer at its own URL: {exc}").format(
                                 site=ctx.site.name, exc=exc)) from None
    return _("{url} answers").format(url=ctx.site.gitlab.url)


@check("GEO-007", title="The secondary's Geo site replicates every container repository",
       severity="high", roles=("secondary",),
       rationale="Geo replicates the registry only to an enabled secondary site, within its "
                 "container_repositories_max_capacity (0: no sync job runs), and with "
                 "selective sync only the repositories of the chosen namespaces or shards "
                 "(Geo sites API: enabled, container_repositories_max_capacity, "
                 "selective_sync_type, https://docs.gitlab.com/api/geo_sites/). A disabled "
                 "site or a zero capacity silently stops registry replication: a fail. "
                 "Selective sync is an operator's choice that leaves repositories off the "
                 "secondary: a warning.",
       remediation="Enable the secondary site and give it a container repository capacity "
                   "above 0 (Admin > Geo > Sites > Edit, or PUT /geo_sites/:id); clear "
                   "selective sync if the secondary must hold every image.",
       doc=GEO_SITES_API)
def test_geo_007_secondary_replicates_every_repository(ctx: CheckContext) -> str:
    site = ctx.site
    g = geo_match(ctx, site).geo_site
    if g is None:
        raise Fail(_("{site} is not a Geo site, so nothing replicates to it").format(
                       site=site.name),
                   observed="no Geo site", expected="an enabled Geo secondary")
    enabled = g.raw.get("enabled")
    capacity = g.raw.get("container_repositories_max_capacity")
    selective = g.raw.get("selective_sync_type")
    if enabled is None or capacity is None:
        raise CannotEvaluate(_("Geo site {g!r} does not say enabled or "
                               "container_repositories_max_capacity (an older GitLab?)").format(
                                 g=g.name))
    problems = []
    if enabled is not True:
        problems.append(f"the Geo site is disabled (enabled: {enabled})")
    if capacity == 0:
        problems.append(_("container_repositories_max_capacity is 0: no repository syncs"))
    if problems:
        raise Fail(f"{site.name}: " + "; ".join(problems), observed="; ".join(problems),
                   expected="enabled, container_repositories_max_capacity > 0")
    if selective:
        chosen = g.raw.get("selective_sync_namespace_ids") if selective == "namespaces" \
            else g.raw.get("selective_sync_shards")
        raise Warn(_("{site} syncs selectively ({selective}: {chosen}): container "
                     "repositories outside them are never replicated to it").format(
                       site=site.name, selective=selective, chosen=chosen),
                   observed=f"selective_sync_type {selective}", expected="no selective sync")
    return _("enabled, container repository capacity {capacity}, no selective sync").format(
               capacity=capacity)
