"""Fuzzing every URL the checker builds or follows, 2,000 hostile examples each: the inventory's
URLs (and the API, registry and S3 URLs built on them), a registry's token realm, a host's
primary API URL and the canary's upload `Location`.

The oracle is the transport itself: where `requests` would connect (its prepared URL as
urllib3's pool manager reads it). For every string, either the checker refuses it, or its
parser's host, port and scheme are exactly where the connection would go; and a credential
is never allowed onto a URL whose connection origin is not the credential's own.
Redirects are not fuzzed: `Http` follows none (`allow_redirects=False`)."""

from __future__ import annotations

import os

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from geopreflight import urls
from geopreflight.errors import UsageError
from geopreflight.http import Unreachable, guard
from geopreflight.inventory import load_inventory_text
from geopreflight.probes import ProbeError
from geopreflight.probes.canary import _upload_location
from geopreflight.probes.registry import check_realm

EXAMPLES = settings(max_examples=2000, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
os.environ.setdefault("GP_FUZZ_TOKEN", "glpat-fuzz-token")
GITLAB = "https://gitlab.example.com"
REGISTRY = "https://registry.example.com:5050"
INVENTORY = """\
deployment: fuzz
sites:
  - name: eu
    role: primary
    gitlab: {{url: {gitlab}, token_env: GP_FUZZ_TOKEN}}
    registry: {{url: {registry}}}
"""
SITE = load_inventory_text(INVENTORY.format(gitlab=f'"{GITLAB}"', registry=f'"{REGISTRY}"'),
                           "fuzz.yml").sites[0]

# controls, escapes, noncharacters, lone surrogates, RTL and invisible marks, backslashes,
# userinfo, IDNA look-alikes and full-width forms, percent-encodings, and URL punctuation
HOSTILE = ["\\", "\\\\", "@", ":", "/", "//", "?", "#", "[", "]", "%", "%40", "%2F", "%5C",
           "%2e", "%00", "%0d%0a", "%25", "\x00", "\t", "\n", "\r", " ", "\x1b[2J", "\x1b]52;c;",
           "\x7f", "\x85", "\ufffe", "\uffff", "\ufdd0", "\ud800", "\udfff", "\u202e", "\u200f",
           "\u200b", "\u0430", "\u00df", "\uff45", "\u3002", "\uff0e", "xn--", "xn--80ak6aa92e",
           "evil", "EVIL", "evil.example", "gitlab.example.com", "registry.example.com",
           "127.0.0.1", "[::1]", "0x7f.1", "user:pw@", ":pw@", "glpat-x@", "..", ".", "80",
           "443", "5050", "-", ";", ",", "'", '"', "<", ">", "{", "}", "|", "^", "`", "~"]
pieces = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=3), max_size=6).map("".join)
SCHEMES = st.sampled_from(["http://", "https://", "HTTPS://", "http:\\\\", "http:/", "http:",
                           "//", "", "ftp://", "https:///", " https://"])


def _shaped(host: str) -> st.SearchStrategy[str]:
    """A URL around `host` with hostile pieces before, inside and after its authority."""
    return st.builds(lambda s, a, b, c, d: f"{s}{a}{host}{b}{c}/jwt/auth{d}",
                     SCHEMES, pieces, pieces, st.sampled_from(["", ":443", ":5050", ":0", ":"]),
                     pieces)


def hostile_urls(host: str) -> st.SearchStrategy[str]:
    return _shaped(host) | _shaped("evil.example") | pieces | st.text(max_size=40)


def connects_to(url: str) -> tuple[str, str, int] | None:
    """Where `requests` would open its connection for `url` (None: it would not send it),
    and it must attach no credential of its own from the URL."""
    try:
        prepared = requests.Request("GET", url).prepare()
        target = parse_url(prepared.url)
    except Exception:  # noqa: BLE001 - any refusal by the transport sends nothing
        return None
    assert "Authorization" not in prepared.headers, url
    scheme = (target.scheme or "").lower()
    port = target.port or urls.DEFAULT_PORTS.get(scheme, 0)
    return scheme, (target.host or "").lower(), port


def agrees(url: str) -> urls.Url | None:
    """The product's parse of `url` (None: refused), checked against the connection."""
    try:
        ours = urls.parse(url)
    except urls.BadUrl:
        return None
    target = connects_to(url)
    assert target in (None, (ours.scheme, ours.host, ours.port)), (url, ours, target)
    return ours


def _origin(url: str) -> str:
    target = connects_to(url)
    assert target is not None, url
    return f"{target[0]}://{target[1]}:{target[2]}"


@EXAMPLES
@given(hostile_urls("gitlab.example.com"))
def test_a_realm_gets_the_token_only_on_the_sites_own_origin(realm: str) -> None:
    """The parser agrees with the connection on the string as a URL and as a host's primary
    API URL (`<url>/v2/`); as a realm, check_realm, then the token request as `token()`
    builds it, through the transport's credential guard, let it pass only where the
    connection goes to gitlab.url."""
    agrees(realm)
    agrees(f"{realm.rstrip('/')}/v2/")
    try:
        check_realm(SITE, realm)
    except ProbeError:
        return
    url = f"{realm}?service=container_registry"
    agrees(url)
    guard("GET", url, None, ("root", "glpat-fuzz-token"), SITE.gitlab.url)
    assert _origin(url) == _origin(GITLAB), realm


@EXAMPLES
@given(hostile_urls("gitlab.example.com"), st.sampled_from([GITLAB, REGISTRY, "http://gl:80"]))
def test_a_credential_goes_to_no_other_origin(url: str, owner: str) -> None:
    for creds in ({"auth": ("root", "t")}, {"headers": {"PRIVATE-TOKEN": "t"}},
                  {"headers": {"authorization": "Bearer t"}}):
        try:
            guard("GET", url, creds.get("headers"), creds.get("auth"), owner)
        except Unreachable:
            continue
        assert _origin(url) == _origin(owner), (url, owner)


@EXAMPLES
@given(hostile_urls("registry.example.com:5050") | st.builds(lambda p: f"/{p}", pieces))
def test_the_canary_follows_a_location_only_on_the_registrys_origin(location: str) -> None:
    try:
        url = _upload_location(REGISTRY, "g/p/geopreflight-canary", location)
    except ProbeError:
        return
    put = f"{url}{'&' if '?' in url else '?'}digest=sha256:00"
    agrees(put)
    guard("GET", put, {"Authorization": "Bearer push"}, None, REGISTRY)
    assert _origin(put) == _origin(REGISTRY), location


@EXAMPLES
@given(hostile_urls("gitlab.example.com"))
def test_an_inventory_url_is_refused_or_connects_where_it_says(url: str) -> None:
    """The inventory's own URLs (gitlab, registry, an S3 endpoint share the reader) and the
    URLs the probes build on them."""
    quoted = url.replace("\\", "\\\\").replace('"', '\\"')
    try:
        text = INVENTORY.format(gitlab=f'"{quoted}"', registry=f'"{REGISTRY}"')
        site = load_inventory_text(text, "fuzz.yml").sites[0]
    except UsageError:
        return
    for built in (site.gitlab.url, f"{site.gitlab.url}/api/v4/metadata",
                  f"{site.gitlab.url}/api/v4/geo_sites?per_page=100&page=2"):
        assert agrees(built) is not None, built
