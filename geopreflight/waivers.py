"""Governed exceptions (`--waivers=waivers.yml`): a finding accepted by a named approver, with
a justification and an expiry. An expired waiver no longer applies; a waived row stays in
every report as `waived`, never hidden.

```yaml
waivers:
  - check: DB-003
    site: us-secondary          # optional: without it, every row of the check
    justification: the secondary's DB moves to its own server in CHG-1234
    approver: jane.doe@example.com
    expires: 2026-12-31         # the waiver holds until the end of that day (UTC)
    ticket: CHG-1234            # optional
```
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .catalog import CATALOG, Outcome, Result
from .i18n import _
from .inventory import Inventory
from .schema import Reader
from .textsafe import for_terminal
from .yamlfile import LineList, load

# N/A: e.g. REP-003 without --canary
WAIVABLE = (Outcome.FAIL, Outcome.ERROR, Outcome.WARN, Outcome.NOT_APPLICABLE)


@dataclass(frozen=True)
class Waiver:
    check: str
    site: str | None
    justification: str
    approver: str
    expires: datetime
    ticket: str | None = None

    def covers(self, check_id: str, site: str | None) -> bool:
        return self.check == check_id and (self.site is None or self.site == site)


def load_waivers(path: str | Path, inventory: Inventory) -> list[Waiver]:
    """Read and validate a waiver file; every mistake names the file and the line."""
    r = Reader(str(path))
    top = r.mapping(load(path, "waivers file"), "waivers file")
    r.only(top, {"waivers"}, "")
    items = r.get(top, "waivers", LineList, "")
    sites = {s.name for s in inventory.sites}
    out = []
    for i, node in enumerate(items):
        where = f"waivers[{i}]"
        node = r.mapping(node, where)
        r.only(node, {"check", "site", "justification", "approver", "expires", "ticket"}, where)
        check_id = r.get(node, "check", str, where)
        if check_id not in CATALOG:
            raise r.error(f"{where}.check: unknown check id {check_id!r}", node, "check")
        site = r.get(node, "site", str, where, required=False)
        if site is not None and site not in sites:
            raise r.error(f"{where}.site: no site {site!r} in the inventory", node, "site")
        out.append(Waiver(check_id, site, r.text(node, "justification", where),
                          r.text(node, "approver", where),
                          r.moment(node, "expires", where, end_of_day=True),
                          r.get(node, "ticket", str, where, required=False)))
    return out


def apply(waivers: list[Waiver], check_id: str, site: str | None, result: Result,
          now: datetime) -> tuple[Result | None, Waiver | None]:
    """The waived result for a finding a live waiver covers; the expired waiver, if any.

    >>> w = Waiver("DB-003", None, "moving", "jane", datetime(2030, 1, 1, tzinfo=UTC))
    >>> print(apply([w], "DB-003", "s", Result("fail", "shared"), datetime.now(UTC))[0].outcome)
    waived
    """
    if result.outcome not in WAIVABLE:
        return None, None
    expired = None
    for w in waivers:
        if not w.covers(check_id, site):
            continue
        if w.expires <= now:
            expired = w
            continue
        ticket = f" ({w.ticket})" if w.ticket else ""
        return Result("waived", _("waived by {approver} until {expires} UTC{ticket}: "
                                  "{justification}; finding ({outcome}): {message}").format(
                                      approver=w.approver, expires=f"{w.expires:%Y-%m-%d %H:%M}",
                                      ticket=ticket, justification=w.justification,
                                      outcome=result.outcome, message=result.message),
                      result.observed, result.expected), None
    return None, expired


class WaiversPlugin:
    """Registered only with --waivers: turns covered findings into `waived` rows."""

    def __init__(self, waivers: list[Waiver]) -> None:
        self.waivers = waivers
        self.now = datetime.now(UTC)
        self.expired: dict[str, str] = {}  # test id -> why; a row may be judged more than once
        self.applied: set[str] = set()

    def pytest_geopreflight_result(self, row, result: Result) -> Result | None:
        site = row.site.name if row.site else None
        waived, expired = apply(self.waivers, row.check.id, site, result, self.now)
        if expired is not None:
            self.expired[row.test_id] = _("{row}: the waiver expired on {expires} UTC and no "
                                          "longer applies").format(
                                              row=row.test_id,
                                              expires=f"{expired.expires:%Y-%m-%d %H:%M}")
        if waived is not None:
            self.applied.add(row.test_id)
        return waived

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for line in self.expired.values():
            terminalreporter.write_line(for_terminal(f"geopreflight: {line}"))
