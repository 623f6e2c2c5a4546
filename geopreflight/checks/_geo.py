"""Views over the Geo facts that several checks share: which Geo site an inventory site is,
its status, and the GitLab version the site itself runs.

>>> match_site_url("https://GitLab.example.com//", "https://gitlab.example.com")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from geopreflight.catalog import CannotEvaluate
from geopreflight.context import CheckContext
from geopreflight.i18n import _
from geopreflight.inventory import Site
from geopreflight.probes.models import GeoSite, GeoSites, GeoStatus, GeoStatuses


def _norm(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url.strip())
    return parts.scheme.lower(), (parts.netloc or "").lower(), parts.path.rstrip("/")


def match_site_url(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


@dataclass(frozen=True)
class GeoMatch:
    geo_site: GeoSite | None
    by: str | None  # "name", "url", "internal_url"

    def describe(self) -> str:
        if self.geo_site is None:
            return _("not a Geo site")
        g = self.geo_site
        return _("Geo site id {id} {g!r} (matched by {by})").format(
                   id=g.id, g=g.name, by=self.by)


def match(site: Site, geo_sites: GeoSites) -> GeoMatch:
    """The Geo site for an inventory site: by name first, then by url or internal_url.

    Never by `current`: a secondary's answers are the primary's
    (https://docs.gitlab.com/development/geo/proxying/).
    """
    for g in geo_sites:
        if g.name == site.name:
            return GeoMatch(g, "name")
    for field in ("url", "internal_url"):
        for g in geo_sites:
            url = getattr(g, field)
            if url and match_site_url(url, site.gitlab.url):
                return GeoMatch(g, field)
    return GeoMatch(None, None)


def geo_sites_of(ctx: CheckContext) -> list[tuple[GeoSite, Site | None]]:
    """Every Geo site as the primary lists it (`GET /geo_sites`), each with the inventory
    site it is (None: a Geo site the inventory leaves out). The ordering rules take the
    sites from here, not from the inventory, so a site left out cannot pass unseen."""
    sites: GeoSites = ctx.fact("geo.sites", None)
    found: dict[int, Site] = {}
    for s in ctx.inventory.sites:
        g = match(s, sites).geo_site
        if g is not None:
            found.setdefault(id(g), s)
    return [(g, found.get(id(g))) for g in sites]


def missing_sites(ctx: CheckContext) -> list[str]:
    """The Geo sites (`name (url)`) the inventory leaves out."""
    return [f"{g.name} ({g.url})" for g, s in geo_sites_of(ctx) if s is None]


def geo_match(ctx: CheckContext, site: Site) -> GeoMatch:
    return match(site, ctx.fact("geo.sites", None))


def status_of(ctx: CheckContext, geo_site: GeoSite) -> GeoStatus | None:
    statuses: GeoStatuses = ctx.fact("geo.statuses", None)
    return statuses.of(geo_site.id)


@dataclass(frozen=True)
class OwnVersion:
    version: str
    revision: str | None
    source: str


def own_version(ctx: CheckContext, site: Site) -> OwnVersion:
    """The version the site itself reports.

    A Geo site: its Geo status (each site reports about itself); without a status, the
    host's version file. Not a Geo site yet: its own `/api/v4/metadata`.
    """
    m = geo_match(ctx, site)
    if m.geo_site is None:
        own = ctx.fact("gitlab.own_answer", site)
        return OwnVersion(own.version, own.revision, f"{site.gitlab.url}/api/v4/metadata")
    status = status_of(ctx, m.geo_site)
    if status and status.version:
        return OwnVersion(status.version, status.revision,
                          f"its Geo status (site id {m.geo_site.id})")
    if site.host is None:
        raise CannotEvaluate(_("{site} is a Geo site without a Geo status, and the inventory "
                               "gives no host to read its version file from").format(
                                 site=site.name))
    hv = ctx.fact("host.gitlab_version", site)
    if not hv.version:
        raise CannotEvaluate(_("{site} has no Geo status and no version file on its host").format(
                                 site=site.name))
    return OwnVersion(hv.version, None, _("the host's version file"))
