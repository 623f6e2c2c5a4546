"""Signed-off manual items (`--attestations=FILE`): what no probe can see, vouched for by a
named person, with a ticket, a link to the evidence and an expiry.

```yaml
attestations:
  - item: change-ticket              # deployment-wide: the change is approved (every step)
    who: jane.doe@example.com
    when: 2026-11-30T14:00:00Z       # when it was signed off (a date means 00:00 UTC)
    ticket: CHG-1234
    evidence: https://tickets.example.com/CHG-1234
    expires: 2026-12-02              # holds until the end of that day (UTC)
  - item: registry-db-backup         # per site: a backup of its registry DB, before its import
                                     # (and registry-storage-backup: its storage, the same way)
    site: us-secondary               # optional: without it, every site
    who: ops.oncall
    when: 2026-12-01T09:10:00Z
    ticket: CHG-1234
    evidence: https://wiki.example.com/CHG-1234/backup-us
    expires: 2026-12-01T23:59:00Z
```

The loaded file becomes one deployment-wide fact, `attestations`, with the time the run judged
it (`as_of`), so checks ATT-001..003 stay pure functions of facts and a bundle re-judged later
(`--from-evidence`) gives the same rows.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .facts import Fact
from .inventory import Inventory
from .probes.models import Attestations
from .redact import Redactor
from .schema import Reader
from .yamlfile import LineList, load

FACT = "attestations"
# item id -> (per site?, what the operator signs off; {site} is filled in)
ITEMS: dict[str, tuple[bool, str]] = {
    "change-ticket": (False, "the change ticket for this change window is approved"),
    "registry-db-backup": (True, "a backup of {site}'s registry metadata database (pg_dump, or "
                                 "gitlab-backup from 18.10), taken before its import"),
    "registry-storage-backup": (True, "a backup of {site}'s registry storage (its bucket or "
                                      "filesystem: the images themselves, which no database "
                                      "backup holds), taken before its import"),
    "offline-gc-disabled": (True, "offline garbage collection (cron jobs running "
                                  "registry-garbage-collect or a third-party GC) is disabled for "
                                  "{site}'s registry, which now uses the metadata database"),
}
KEYS = {"item", "site", "who", "when", "ticket", "evidence", "expires"}
_LINK = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.I)


@dataclass(frozen=True)
class Attestation:
    item: str
    site: str | None
    who: str
    when: datetime
    ticket: str
    evidence: str
    expires: datetime

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["when"], d["expires"] = _iso(self.when), _iso(self.expires)
        return d


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def load_attestations(path: str | Path, inventory: Inventory) -> list[Attestation]:
    """Read and validate an attestations file; every mistake names the file and the line."""
    r = Reader(str(path))
    top = r.mapping(load(path), "attestations file")
    r.only(top, {"attestations"}, "")
    items = r.get(top, "attestations", LineList, "")
    sites = {s.name for s in inventory.sites}
    out: list[Attestation] = []
    for i, node in enumerate(items):
        where = f"attestations[{i}]"
        node = r.mapping(node, where)
        r.only(node, KEYS, where)
        item = r.get(node, "item", str, where, choices=tuple(ITEMS))
        site = r.get(node, "site", str, where, required=False)
        if site is not None and not ITEMS[item][0]:
            raise r.error(f"{where}.site: {item} is deployment-wide; remove site", node, "site")
        if site is not None and site not in sites:
            raise r.error(f"{where}.site: no site {site!r} in the inventory", node, "site")
        if any(a.item == item and a.site == site for a in out):
            raise r.error(f"{where}: a second {item} attestation"
                          + (f" for {site}" if site else ""), node)
        evidence = r.text(node, "evidence", where)
        if not _LINK.match(evidence):
            raise r.error(f"{where}.evidence: expected a link (https://...) to the evidence",
                          node, "evidence")
        when = r.moment(node, "when", where, end_of_day=False)
        expires = r.moment(node, "expires", where, end_of_day=True)
        if expires <= when:
            raise r.error(f"{where}.expires: expected a time after when ({_iso(when)})",
                          node, "expires")
        out.append(Attestation(item, site, r.text(node, "who", where), when,
                               r.text(node, "ticket", where), evidence, expires))
    return out


def find(value: Attestations, item: str, site: str | None) -> tuple[dict[str, Any] | None, str]:
    """The attestation that holds for (item, site) at the fact's `as_of`, or None and why not.

    >>> v = Attestations("a.yml", "2026-12-01T10:00:00Z", [
    ...     {"item": "change-ticket", "site": None, "who": "jane", "ticket": "CHG-1",
    ...      "when": "2026-11-30T00:00:00Z", "expires": "2026-12-01T00:00:00Z",
    ...      "evidence": "https://t/CHG-1"}])
    >>> find(v, "change-ticket", None)[1]
    'change-ticket (jane, CHG-1) expired on 2026-12-01 00:00 UTC'
    """
    as_of = _parse(value.as_of)
    what = item + (f" for {site}" if site else "")
    mine = [a for a in value.items if a["item"] == item and a.get("site") in (None, site)]
    if not mine:
        return None, f"no {item} attestation{f' for {site}' if site else ''} in {value.file}"
    for a in mine:
        if _parse(a["when"]) <= as_of < _parse(a["expires"]):
            return a, ""
    a = mine[0]
    if _parse(a["when"]) > as_of:
        return None, (f"{what} ({a['who']}, {a['ticket']}) is signed off for "
                      f"{_parse(a['when']):%Y-%m-%d %H:%M} UTC, after this run")
    return None, (f"{what} ({a['who']}, {a['ticket']}) expired on "
                  f"{_parse(a['expires']):%Y-%m-%d %H:%M} UTC")


def to_sign_off(item: str, site: str | None) -> str:
    """What the operator must sign off for (item, site), in words."""
    return ITEMS[item][1].format(site=site or "the site")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class AttestationsPlugin:
    """Registered only with --attestations: adds the `attestations` fact, once per run."""

    def __init__(self, attestations: list[Attestation], path: str, redactor: Redactor) -> None:
        now = datetime.now(UTC)
        value = redactor.data({"file": Path(path).name, "as_of": _iso(now),
                               "items": [a.as_dict() for a in attestations]})
        self.fact = Fact(FACT, None, Attestations(**value), source=redactor.text(str(path)),
                         started_at=_iso(now))

    def pytest_geopreflight_facts(self) -> list[Fact]:
        return [self.fact]
