"""GitLab version strings compared as numbers, with pre-releases before their release.

`-ee`/`-ce` name the edition, not a pre-release. An `-rcN` or `-pre` build comes before the
release it leads to, so `17.3.0-rc42` does not meet a 17.3 floor (fail closed).

>>> parse("17.10.2-ee") > parse("17.3.0-ee")
True
>>> parse("17.3.0-rc42") < parse("17.3.0-ee") < parse("17.3.1")
True
>>> parse("18.0.0-pre") > parse("17.11.9-ee")
True
>>> parse("v17.3.0-rc2") < parse("17.3.0-rc10")
True
>>> str(parse("17.5"))
'17.5.0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?((?:[-.+~][0-9A-Za-z.]+)*)$")
_EDITIONS = {"ee", "ce", "jh", "fips"}


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int
    stage: tuple[int, int]  # (0, 0) pre, (1, N) rcN, (2, 0) release
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def prerelease(self) -> bool:
        return self.stage < (2, 0)


def parse(text: str) -> Version:
    """Parse a GitLab version; a string that is not one raises ValueError."""
    m = _VERSION.match(text.strip())
    if not m:
        raise ValueError(f"not a GitLab version: {text!r}")
    stage = (2, 0)
    for token in re.split(r"[-.+~]", m.group(4) or ""):
        token = token.lower()
        if not token or token in _EDITIONS:
            continue
        if rc := re.fullmatch(r"rc(\d+)", token):
            stage = min(stage, (1, int(rc.group(1))))
        elif token in ("pre", "beta", "alpha", "dev") or token.startswith("pre"):
            stage = (0, 0)
    return Version(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), stage, text)


def at_least(text: str, floor: str) -> bool:
    """Whether a version meets a floor such as "17.3".

    >>> at_least("17.10.2-ee", "17.3"), at_least("17.2.9-ee", "17.3")
    (True, False)
    """
    return parse(text) >= parse(floor)
