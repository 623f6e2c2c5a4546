"""The container registry, as a client sees it: GET and HEAD only, the token request included.

`GET /v2/` challenges with `WWW-Authenticate: Bearer realm=...,service=...`; the realm is
GitLab's `/jwt/auth`, asked with the site's username and token and `service=container_registry`
(https://gitlab.com/gitlab-org/gitlab/-/blob/master/app/services/auth/
container_registry_authentication_service.rb). With that token: `/v2/` (the GitLab headers:
version, features, database-enabled), `/gitlab/v1/` (200 in database mode, 404 with the
version header in legacy mode, https://gitlab.com/gitlab-org/container-registry/-/blob/master/
docs/spec/gitlab/api.md). Only the data probe asks for `registry:catalog:*`, and reads one
catalog entry (`n=1`), never the whole catalog. Tokens never leave this module.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from ..failures import Kind, ProbeFailure, request
from ..http import Reply, Unreachable, Untrusted, shown
from ..inventory import Site
from ..urls import BadUrl, parse
from . import ProbeContext, ProbeError, probe, request_error
from .codec import from_json
from .gitlab import api_get
from .models import PrimaryApi, RegistryApi, RegistryCatalog
from .trust import host_trust

SERVICE = "container_registry"
CATALOG_SCOPE = "registry:catalog:*"
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def challenge(reply: Reply) -> dict[str, str] | None:
    """The Bearer challenge's parameters (realm, service, scope), or None.

    >>> from requests.structures import CaseInsensitiveDict as H
    >>> challenge(Reply("u", 401, H({"WWW-Authenticate":
    ...     'Bearer realm="https://gl/jwt/auth",service="container_registry"'}), b""))
    {'realm': 'https://gl/jwt/auth', 'service': 'container_registry'}
    """
    header = reply.headers.get("WWW-Authenticate", "")
    if reply.status != 401 or not header.lower().startswith("bearer "):
        return None
    return dict(_PARAM.findall(header))


def _username(pc: ProbeContext, site: Site) -> str:
    if site.gitlab.username:
        return site.gitlab.username
    reply = api_get(pc, site, "/api/v4/user")
    try:
        name = reply.json().get("username") if reply.status == 200 else None
    except ValueError:
        name = None
    if not name:
        raise request_error("GET", reply.url, f"{reply.status}, cannot learn the token's "
                            "username (set gitlab.username in the inventory)",
                            status=reply.status, kind=Kind.PARSE)
    return name


def _registry_url(site: Site) -> str:
    if site.registry is None:
        why = f"the inventory gives no registry for {site.name}"
        raise ProbeError(why, failure=ProbeFailure(Kind.MISSING, why))
    return site.registry.url


def check_realm(site: Site, realm: str) -> None:
    """The token goes to the site's own GitLab only: a realm the URL parser refuses, on
    another origin, or over plain HTTP for an HTTPS GitLab is an error, and nothing is sent
    to it. The origin is the one the HTTP client connects to (`urls.parse`)."""
    want = parse(site.gitlab.url).origin
    try:
        got_url = parse(realm)
    except BadUrl as exc:
        why = (f"{site.name}'s registry names a token realm that {exc}; the token was not "
               f"sent there (expected a URL on {want})")
        raise ProbeError(why, site.registry.url if site.registry else "",
                         ProbeFailure(Kind.NOT_SENT, why, shown(realm))) from None
    got, host = got_url.origin, got_url.host
    if got == want:
        return
    downgrade = " over plain HTTP" if want.startswith("https:") and not got.startswith(
        "https:") else ""
    why = (f"{site.name}'s registry names a token realm on {host} ({got}){downgrade}, not the "
           f"site's gitlab.url ({want}); the token was not sent there")
    raise ProbeError(why, site.registry.url if site.registry else "",
                     ProbeFailure(Kind.NOT_SENT, why, shown(realm)))


def token(pc: ProbeContext, site: Site, realm: str, scope: str | None = None
          ) -> tuple[str | None, ProbeFailure | None]:
    """A registry token from the realm, or None and why (GitLab's 404 and other meanings).

    The realm must be on the site's gitlab.url origin, or the credentials are not sent.
    GitLab refusing the inventory's credentials (401, 403) is not an answer about the
    registry: it raises ProbeError naming the token's variable and what it lacks.
    """
    check_realm(site, realm)
    params = {"service": SERVICE} | ({"scope": scope} if scope else {})
    url = f"{realm}?{urlencode(params)}"
    user = _username(pc, site)
    reply = pc.http.get(url, auth=(user, site.gitlab.token.reveal()),
                        verify=site.gitlab.verify, credentials_for=site.gitlab.url)
    if reply.status == 200:
        try:
            body = reply.json()
            value = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            value = None
        return (value, None) if value else (
            None, request("GET", realm, "200 without a token", 200, Kind.PARSE))
    who = site.gitlab.token.source
    refused = {401: f"GitLab rejected user {user} with the token from {who} (HTTP Basic: "
                    "Access denied: a wrong, expired or revoked token, or not that user's)",
               403: f"the token from {who} has no registry ability: it needs read_registry "
                    "(or api)"}.get(reply.status)
    asked = f"{realm}?service={SERVICE}"
    if refused:
        raise request_error("GET", asked, f"{reply.status}, {refused}", realm,
                            status=reply.status)
    why = {404: "GitLab says the registry is not enabled (UNAVAILABLE)"}.get(
        reply.status, "unexpected answer")
    return None, request("GET", asked, f"{reply.status}, {why}", reply.status)


def _get(pc: ProbeContext, site: Site, url: str, bearer: str | None = None) -> Reply:
    """A registry GET, verified like the site's GitLab (an internal CA usually signs both)."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
    try:
        return pc.http.get(url, headers=headers, verify=site.gitlab.verify,
                           credentials_for=_registry_url(site))
    except Unreachable as exc:
        raise ProbeError(str(exc), url, exc.failure) from None


def _challenge(pc: ProbeContext, site: Site) -> tuple[dict[str, Any], str | ProbeFailure]:
    """`/v2/` without a token: the value so far and the token realm, or the problem (also
    the value's `problem`) that leaves no realm to ask."""
    base = _registry_url(site)
    first = _get(pc, site, f"{base}/v2/")
    value: dict[str, Any] = {"url": base, "unauthenticated_status": first.status}
    if first.status == 200:
        problem = ProbeFailure(Kind.AUTH, "GET /v2/ answers 200 without a token: the registry "
                               "does not use GitLab's token authentication", f"{base}/v2/",
                               first.status)
    else:
        params = challenge(first)
        if params is not None and params.get("realm"):
            value["challenge"] = {"realm": params["realm"], "service": params.get("service")}
            return value, params["realm"]
        problem = request("GET", f"{base}/v2/", f"{first.status} without a Bearer challenge "
                          "(expected 401 with WWW-Authenticate: Bearer realm=...)",
                          first.status)
    value["problem"] = problem.line
    return value, problem


@probe("registry.api")
def registry_api(pc: ProbeContext, site: Site | None) -> tuple[RegistryApi, str]:
    """Does the registry answer, with GitLab token auth, and what does it say about itself.
    `/v2/` and `/gitlab/v1/` with the token are asked together (one round trip, not two)."""
    assert site is not None
    value, realm = _challenge(pc, site)
    base = value["url"]
    bearer = None
    if isinstance(realm, str):
        bearer, why = token(pc, site, realm)
        if why is not None:
            value["problem"] = why.line
    if bearer is None:
        return from_json(RegistryApi, value), f"{base}/v2/"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry") as pool:
        v1 = pool.submit(_get, pc, site, f"{base}/gitlab/v1/", bearer)
        reply = _get(pc, site, f"{base}/v2/", bearer)
        h = reply.headers
        value.update({
            "status": reply.status,
            "api_version": h.get("Docker-Distribution-Api-Version"),
            "version": h.get("Gitlab-Container-Registry-Version"),
            "features": h.get("Gitlab-Container-Registry-Features"),
            "database_enabled": h.get("Gitlab-Container-Registry-Database-Enabled"),
        })
        if reply.status == 401 and site.role == "secondary":
            primary = pc.inventory.primary
            if primary.registry is not None:
                other = _get(pc, primary, f"{primary.registry.url}/v2/", bearer)
                value["token_accepted_by_primary"] = other.status == 200
        if reply.status == 200:
            answer = v1.result()
            value["gitlab_v1"] = {"status": answer.status, "version_header":
                                  "Gitlab-Container-Registry-Version" in answer.headers}
    return from_json(RegistryApi, value), f"{base}/v2/, {base}/gitlab/v1/"


@probe("registry.catalog")
def registry_catalog(pc: ProbeContext, site: Site | None) -> tuple[RegistryCatalog, str]:
    """The first catalog entry (`n=1`) with a `registry:catalog:*` token: data or none.
    The catalog token is asked as soon as the challenge names the realm, beside the
    registry.api probe's own token, not after it."""
    assert site is not None
    value, realm = _challenge(pc, site)
    if isinstance(realm, ProbeFailure):
        raise ProbeError(realm.line, f"{value['url']}/v2/", realm)
    bearer, why = token(pc, site, realm, CATALOG_SCOPE)
    if bearer is None:
        assert why is not None
        raise ProbeError(why.line, realm, why)
    url = f"{value['url']}/v2/_catalog?n=1"
    reply = _get(pc, site, url, bearer)
    if reply.status in (401, 403):
        raise request_error("GET", url, f"{reply.status}; GitLab grants registry:catalog:* "
                            "only to administrators, so the inventory's token must belong to "
                            "an admin", status=reply.status)
    if reply.status != 200:
        raise request_error("GET", url, f"{reply.status}, expected 200", status=reply.status)
    try:
        repos = reply.json().get("repositories") or []
    except (ValueError, AttributeError):
        raise request_error("GET", url, "the answer is not the catalog's JSON",
                            kind=Kind.PARSE) from None
    return RegistryCatalog(len(repos), "Link" in reply.headers), url


@probe("registry.primary_api", scope="host")
def registry_primary_api(pc: ProbeContext, site: Site | None) -> tuple[PrimaryApi | None, str]:
    """A secondary node's `geo_registry_replication_primary_api_url` (a gitlab_rails setting, so
    read on each node: Sidekiq runs the sync), asked for `/v2/` unauthenticated from that node
    itself (one bounded curl over the host connection; from the checker when the node has no
    curl): the primary registry must answer with a Bearer challenge whose realm is the
    primary's GitLab (https://gitlab.com/gitlab-org/gitlab/-/blob/master/ee/app/services/geo/
    container_repository_sync.rb). Over HTTPS the certificate is verified with the node's own
    trusted certificates."""
    assert site is not None
    if site.role != "secondary":
        return None, "not a secondary"
    if site.host is None:
        why = (f"the inventory gives no host for {site.name}, so its "
               "geo_registry_replication_primary_api_url cannot be read")
        raise ProbeError(why, failure=ProbeFailure(Kind.MISSING, why))
    from .host import host_config, host_files

    cfg, _ = host_config(pc, site)
    rails = cfg.gitlab_rb.values.get("gitlab_rails")
    url = (cfg.gitlab_yml.registry_replication_primary_api_url
           or (rails.get("geo_registry_replication_primary_api_url")
               if isinstance(rails, dict) else None))
    if not url:
        return PrimaryApi(None), "gitlab.yml, gitlab.rb"
    url = str(url)
    target = f"{url.rstrip('/')}/v2/"
    try:
        scheme = parse(target).scheme
    except BadUrl as exc:
        return PrimaryApi(url, error=f"the URL {exc}; it was not asked"), "gitlab.yml, gitlab.rb"
    node = host_files(pc, site)
    seen = _node_answer(node.get_headers(target), url, node.host.label)
    if scheme != "https":
        return seen or _primary_answer(pc, site, url, target, site.gitlab.verify, None), target
    try:
        with host_trust(pc, site) as (bundle, where):
            checked = _primary_answer(pc, site, url, target, bundle, where)
    except ProbeError as exc:  # the host's certificates unread: verified as the checker would
        checked = replace(_primary_answer(pc, site, url, target, site.gitlab.verify, None),
                          trust_error=str(exc))
    if seen is None:
        return checked, target
    if checked.untrusted:
        return replace(seen, error=checked.error, trust=checked.trust, untrusted=True), target
    return replace(seen, trust=checked.trust if checked.status is not None else None,
                   trust_error=checked.trust_error), target


def _node_answer(text: str | None, url: str, node: str) -> PrimaryApi | None:
    """A node's curl answer (status line and headers) as a PrimaryApi; None without curl.

    >>> a = _node_answer('HTTP/1.1 401 Unauthorized\\r\\nWww-Authenticate: Bearer '
    ...                  'realm="https://gl/jwt/auth",service="container_registry"\\r\\n',
    ...                  "https://r", "rails1")
    >>> a.status, a.bearer_challenge, a.realm, a.probed_from
    (401, True, 'https://gl/jwt/auth', 'rails1')
    >>> _node_answer("curl: (7) Failed to connect", "https://r", "n").error
    'curl: (7) Failed to connect'
    """
    from requests.structures import CaseInsensitiveDict

    if text is None:
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    status = next((ln for ln in lines if re.match(r"HTTP/\S+ \d{3}", ln)), None)
    if status is None:
        return PrimaryApi(url, error=(lines[-1] if lines else "no answer")[:300],
                          probed_from=node)
    headers = CaseInsensitiveDict(
        (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines
                                               if ":" in ln and not ln.startswith("HTTP/")))
    code = int(status.split()[1])
    found = challenge(Reply(url, code, headers, b""))
    return PrimaryApi(url, status=code, bearer_challenge=found is not None,
                      version=headers.get("Gitlab-Container-Registry-Version"),
                      realm=(found or {}).get("realm"), probed_from=node)


def _primary_answer(pc: ProbeContext, site: Site, url: str, target: str, verify: bool | str,
                    trust: str | None) -> PrimaryApi:
    """GET /v2/ at the primary API URL, verified with `verify` (the secondary's own trust
    store, described by `trust`, when it could be read)."""
    try:
        reply = pc.http.get(target, verify=verify)
    except Untrusted as exc:
        if trust is None:
            return PrimaryApi(url, error=str(exc))
        return PrimaryApi(url, error=f"the certificate does not verify against {trust} "
                                     f"({exc.reason})", trust=trust, untrusted=True)
    except Unreachable as exc:
        return PrimaryApi(url, error=str(exc), trust=trust)
    found = challenge(reply)
    return PrimaryApi(url, status=reply.status, bearer_challenge=found is not None,
                      version=reply.headers.get("Gitlab-Container-Registry-Version"),
                      realm=(found or {}).get("realm"), trust=trust)
