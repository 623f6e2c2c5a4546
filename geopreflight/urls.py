"""The one URL parser of the checker: every URL a request goes to (the inventory's, a token
realm, a primary API URL from a host, an upload `Location`, an S3 endpoint) is read here, and
its host is the one the HTTP client connects to.

Why: Python's `urlsplit` and urllib3's `parse_url` (what `requests` connects with) read some
URLs differently. `http://EVIL\\@GITLAB/` is host GITLAB to `urlsplit` and EVIL to urllib3, so
an origin check made with the first lets a credential go to the second. Here a URL is parsed
by urllib3 and refused whenever `urlsplit` disagrees, and anything that makes parsers
disagree is refused outright: characters outside printable ASCII (controls, spaces, non-ASCII:
write an IDNA host as `xn--`), backslashes, userinfo (`user@`), percent-encoding or other
odd characters in the host, and a port that is not a number from 1 to 65535.

>>> parse("HTTPS://GitLab.Example.com/jwt/auth?x=1").origin
'https://gitlab.example.com:443'
>>> same_origin("http://gl:80/a", "HTTP://GL/b"), same_origin("http://gl/", "https://gl/")
(True, False)
>>> parse("http://EVIL\\\\@GITLAB/jwt/auth")
Traceback (most recent call last):
...
geopreflight.urls.BadUrl: holds a backslash
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

DEFAULT_PORTS = {"http": 80, "https": 443}
# a DNS name or IPv4 address (letters, digits, '-', '_', '.'), or a bracketed IPv6 address
_HOST = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_.])?|\[[0-9a-f:.]+\]")


class BadUrl(ValueError):
    """A URL the checker will not send a request to; the message says why and never quotes
    the URL (it may hold a credential). `credentials`: it was refused for its userinfo."""

    def __init__(self, why: str, *, credentials: bool = False) -> None:
        super().__init__(why)
        self.credentials = credentials


@dataclass(frozen=True)
class Url:
    """A URL as the HTTP client will use it: lower-case scheme and host, the port spelled out."""

    scheme: str
    host: str
    port: int
    path: str
    query: str | None

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse(url: str) -> Url:
    """The URL's parts, or BadUrl when it is not a plain http(s) URL both parsers read alike."""
    if not isinstance(url, str) or not url:
        raise BadUrl("is empty")
    if any(not "!" <= c <= "~" for c in url):
        raise BadUrl("holds a space, a control or a non-ASCII character (write an "
                     "internationalised host name as its xn-- form)")
    if "\\" in url:
        raise BadUrl("holds a backslash")
    try:
        ours = parse_url(url)
        theirs = urlsplit(url)
        their_port = theirs.port
    except (LocationParseError, ValueError):
        raise BadUrl("cannot be read (a host or port that is not valid)") from None
    scheme = (ours.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or theirs.scheme.lower() != scheme:
        raise BadUrl("is not an http:// or https:// URL")
    if ours.auth is not None or "@" in theirs.netloc:
        raise BadUrl("holds credentials (user:password@)", credentials=True)
    host = ours.host or ""
    if not _HOST.fullmatch(host):
        raise BadUrl("has no host, or a host with characters a host name cannot hold")
    if (theirs.hostname or "") != host.strip("[]"):
        raise BadUrl("is read with different hosts by different URL parsers")
    port = ours.port if ours.port is not None else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536 or (their_port or DEFAULT_PORTS[scheme]) != port:
        raise BadUrl("has a port that is not a number from 1 to 65535")
    return Url(scheme, host, port, ours.path or "", ours.query)


def same_origin(url: str, other: str) -> bool:
    """Whether both URLs are valid and name the same scheme, host and port (False when
    either is refused): the test before a credential meant for `other` goes to `url`."""
    try:
        return parse(url).origin == parse(other).origin
    except BadUrl:
        return False


def joined(base: str, reference: str) -> str:
    """A `Location` reference against a registry's base URL: a path is appended to the base
    (a registry answers with its own `/v2/...` path), an absolute URL stands; either is then
    parsed like any URL, and anything else (`//host/x`, no scheme) is refused.

    >>> joined("http://r:5000", "/v2/u?s=1"), joined("http://r", "https://s/u")
    ('http://r:5000/v2/u?s=1', 'https://s/u')
    """
    if reference.startswith("/") and not reference.startswith("//"):
        reference = f"{base.rstrip('/')}{reference}"
    parse(reference)
    return reference
