"""The one place secrets are scrubbed: known secret values in every form they travel in,
credentials in URLs (the whole userinfo), queries and DSNs, and values under secret-looking
keys.

A known secret is masked as written, escaped (JSON, twice-JSON, Python repr), URL-encoded
(`quote`, `quote_plus`, either hex case) and base64-encoded (standard and URL-safe) at any
alignment, so `Basic base64(user:secret)` is masked whoever the user is: the base64 run that
holds the secret's stable characters is masked whole.

>>> r = Redactor(["glpat-SECRET"])
>>> r.text("token glpat-SECRET in postgresql://reg:pw@db/x password=hunter2")
'token *** in postgresql://***@db/x password=***'
>>> import base64
>>> r.text("Authorization: Basic " + base64.b64encode(b"anyone:glpat-SECRET").decode())
'Authorization: Basic ***'
>>> r.text("GET https://gl/api/v4/user?private_token=glpat-other&page=2")
'GET https://gl/api/v4/user?private_token=***&page=2'
>>> r.data({"headers": {"Authorization": ["Bearer x"]}, "n": 1})
{'headers': {'Authorization': '***'}, 'n': 1}
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET = 4       # shorter values would mask ordinary words
MIN_B64_CORE = 6     # the stable base64 characters of a secret, at the least
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|private[_-]?key|"
                         r"credential|api[_-]?key|dsn)$", re.I)
# Userinfo whatever its shape (`user:pw@`, `:pw@`, `token@`, a password holding `/` or `@`):
# everything between `scheme://` and the authority's last `@` is masked, the user too (a
# token is often given as the user, `https://glpat-...@host`). Over-masking a rare path `@`
# beats a leak. Only an SSH target's lone user (`ssh://ops@host`) is a login name and kept.
_URL_CREDS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)(?:[^\s/?#@:]*:\S*|"
                        r"(?<!ssh://)(?<!sftp://)(?<!paramiko://)[^\s/?#@]*)@", re.I)
_QUERY = re.compile(r"([?&;][^=&#\s]*(?:token|secret|password|passwd|pwd|key|signature|sig|"
                    r"credential|auth)[^=&#\s]*=)[^&#\s\"']+", re.I)
_KV = re.compile(r"\b([\w-]*(?:password|passwd|pwd|token|secret))(['\"]?)(\s*[=:]\s*)"
                 r"('[^']*'|\"[^\"]*\"|[^\s&]+)", re.I)
_SCHEME = re.compile(r"\b(Basic|Bearer)(\s+)(?=[A-Za-z0-9+/_.~-]*[0-9+/=_.~-])"
                     r"[A-Za-z0-9+/_.~-]{8,}=*")
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")


def _escaped(secret: str) -> set[str]:
    """The secret as JSON, twice-JSON and Python escaping write it."""
    json_once = json.dumps(secret)[1:-1]
    return {secret, json_once, json.dumps(secret, ensure_ascii=False)[1:-1],
            json.dumps(json_once)[1:-1], repr(secret)[1:-1],
            secret.encode("unicode_escape").decode("ascii")}


def _url_encoded(secret: str) -> set[str]:
    forms = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    return forms | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}


def _b64_cores(secret: str) -> set[str]:
    """The base64 characters that depend on the secret's bytes only, at each alignment."""
    raw = secret.encode()
    cores = set()
    for pad in range(3):
        start, end = -(-8 * pad // 6), 8 * (pad + len(raw)) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * pad + raw).decode()[start:end]
            if len(core) >= MIN_B64_CORE:
                cores.add(core)
    return cores


def _alternation(forms: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(forms), key=len, reverse=True)  # a longer form is masked whole
    return re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None


class Redactor:
    """Scrubs the secrets it was told about, in every form, and the shapes secrets take."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len,
                              reverse=True)
        self._known = _alternation(f for s in self.secrets
                                   for f in _escaped(s) | _url_encoded(s))
        self._b64 = _alternation(c for s in self.secrets for c in _b64_cores(s))

    def text(self, value: str) -> str:
        if self._known is not None:
            value = self._known.sub(MASK, value)
        if self._b64 is not None:
            value = self._mask_b64_runs(value)
        value = _URL_CREDS.sub(lambda m: m.group(1) + MASK + "@", value)
        value = _QUERY.sub(lambda m: m.group(1) + MASK, value)
        value = _SCHEME.sub(lambda m: m.group(1) + m.group(2) + MASK, value)
        return _KV.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + MASK, value)

    def _mask_b64_runs(self, value: str) -> str:
        """Mask each whole base64 run that holds a secret's core (linear in the text)."""
        assert self._b64 is not None
        out, last = [], 0
        for m in self._b64.finditer(value):
            if m.start() < last:
                continue
            start, end = m.start(), m.end()
            while start > last and value[start - 1] in _B64_CHARS:
                start -= 1
            while end < len(value) and value[end] in _B64_CHARS:
                end += 1
            out += [value[last:start], MASK]
            last = end
        return "".join(out) + value[last:] if out else value

    def data(self, value: Any, key: str = "") -> Any:
        """A deep copy of JSON-like data with secret keys masked and strings scrubbed."""
        if key and _SECRET_KEY.search(key) and value not in (None, "", [], {}):
            return MASK
        if isinstance(value, dict):
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value
