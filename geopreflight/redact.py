"""The one place secrets are scrubbed: known secret values, credentials in URLs and DSNs,
and values under secret-looking keys.

>>> r = Redactor(["glpat-SECRET"])
>>> r.text("token glpat-SECRET in postgresql://reg:pw@db/x password=hunter2")
'token *** in postgresql://reg:***@db/x password=***'
>>> r.data({"headers": {"Authorization": ["Bearer x"]}, "n": 1})
{'headers': {'Authorization': '***'}, 'n': 1}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|private[_-]?key|"
                         r"credential|api[_-]?key|dsn)$", re.I)
_URL_CREDS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.I)
_KV = re.compile(r"\b(password|passwd|pwd|token|secret)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)", re.I)


class Redactor:
    """Scrubs the secrets it was told about and the shapes secrets take."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret containing another is masked whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        value = _URL_CREDS.sub(lambda m: m.group(1) + MASK + "@", value)
        return _KV.sub(lambda m: m.group(1) + m.group(2) + MASK, value)

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
