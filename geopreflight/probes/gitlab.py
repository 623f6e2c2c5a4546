"""The GitLab API: Geo sites and statuses (asked of the primary) and each site's own answer.

A Geo secondary proxies nearly every API request to the primary
(https://docs.gitlab.com/development/geo/proxying/), so a
secondary's `/api/v4/version` is normally the primary's. A site's own version comes from its
Geo status; `/api/v4/metadata` only speaks for a site that is not a Geo site yet.
"""

from __future__ import annotations

from typing import Any

from ..failures import Kind
from ..http import Reply
from ..inventory import Site
from . import ProbeContext, probe, request_error
from .codec import ShapeError, from_json
from .models import GeoSites, GeoStatuses, OwnAnswer

MAX_PAGES = 50


def api_get(pc: ProbeContext, site: Site, path: str) -> Reply:
    """GET an API path at a site with its token; 401/403 say which token and what it lacks."""
    url = f"{site.gitlab.url}{path}"
    reply = pc.http.get(url, headers={"PRIVATE-TOKEN": site.gitlab.token.reveal()},
                        verify=site.gitlab.verify, credentials_for=site.gitlab.url)
    who = site.gitlab.token.source
    if reply.status == 401:
        raise request_error("GET", url, f"401, GitLab rejected the token from {who} "
                            "(invalid, expired or revoked)", status=401)
    if reply.status == 403:
        raise request_error("GET", url, f"403, the token from {who} is not allowed: it needs "
                            "an administrator's token with read_api (or api), and the "
                            "admin_mode scope when Admin Mode is on", status=403)
    return reply


def _json(reply: Reply) -> Any:
    try:
        return reply.json()
    except ValueError:
        raise request_error("GET", reply.url, f"{reply.status}, the answer is not JSON",
                            status=reply.status, kind=Kind.PARSE) from None


def _all_pages(pc: ProbeContext, site: Site, path: str) -> tuple[list[Any], str]:
    """Follow GitLab's pagination (X-Next-Page) to the end, bounded."""
    items: list[Any] = []
    page, source = 1, f"{site.gitlab.url}{path}"
    for _ in range(MAX_PAGES):
        reply = api_get(pc, site, f"{path}?per_page=100&page={page}")
        if reply.status != 200:
            raise request_error("GET", reply.url, f"{reply.status}, expected 200", source,
                                status=reply.status)
        body = _json(reply)
        if not isinstance(body, list):
            raise request_error("GET", reply.url, "expected a JSON list", source,
                                kind=Kind.PARSE)
        items.extend(body)
        next_page = reply.headers.get("X-Next-Page", "")
        if not next_page.isdigit():
            return items, source
        page = int(next_page)
    raise request_error("GET", source, f"more than {MAX_PAGES} pages", kind=Kind.TOO_LARGE)


def _typed(model: type, items: list[Any], source: str) -> Any:
    """GitLab's answer as its model; a field GitLab documents but did not send is an error."""
    try:
        return from_json(model, items)
    except ShapeError as exc:
        raise request_error("GET", source, f"unexpected answer ({exc})",
                            kind=Kind.PARSE) from None


@probe("geo.sites", scope="deployment")
def geo_sites(pc: ProbeContext, _site: Site | None) -> tuple[GeoSites, str]:
    items, source = _all_pages(pc, pc.inventory.primary, "/api/v4/geo_sites")
    return _typed(GeoSites, items, source), source


@probe("geo.statuses", scope="deployment")
def geo_statuses(pc: ProbeContext, _site: Site | None) -> tuple[GeoStatuses, str]:
    items, source = _all_pages(pc, pc.inventory.primary, "/api/v4/geo_sites/status")
    return _typed(GeoStatuses, items, source), source


@probe("gitlab.own_answer")
def own_answer(pc: ProbeContext, site: Site | None) -> tuple[OwnAnswer, str]:
    """What the site's own URL answers to `/api/v4/metadata` (or `/api/v4/version`).

    For a Geo secondary this is normally the primary's answer, proxied: it proves the site
    answers, and gives a version only for a site that is not a Geo site.
    """
    assert site is not None
    reply = api_get(pc, site, "/api/v4/metadata")
    if reply.status == 404:
        reply = api_get(pc, site, "/api/v4/version")
    if reply.status != 200:
        raise request_error("GET", reply.url, f"{reply.status}, expected 200",
                            status=reply.status)
    body = _json(reply)
    if not isinstance(body, dict) or not isinstance(body.get("version"), str):
        raise request_error("GET", reply.url, "no version in the answer", kind=Kind.PARSE)
    return OwnAnswer(body["version"], body.get("revision")), reply.url
