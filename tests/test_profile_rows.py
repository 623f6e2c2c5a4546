"""Every profile's steps expand to the rows recorded in tests/data/profile_rows.json: moving
checks between a profile's lines and the shared groups (groups.yml) must not add, drop, reorder
or re-role a single row. After a deliberate change to what a step gates, regenerate it with
`python tests/test_profile_rows.py` and review the diff."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from geopreflight.inventory import load_inventory_text
from geopreflight.profiles import KINDS, Row, available, load_profile, plan, rows
from geopreflight.suite import load_catalog

SNAPSHOT = Path(__file__).resolve().parent / "data" / "profile_rows.json"

# A primary read on one host and a secondary with one node per host role (per-host rows name
# them), so every role, scope and host role shows in the rows.
INVENTORY = """\
deployment: rows
sites:
  - name: eu-primary
    role: primary
    gitlab: {url: "https://gitlab.eu.example", token_env: EU_TOKEN}
    registry: {url: "https://registry.eu.example"}
    metadata_db: {host: db.eu.example, dbname: registry, user: ro, password_env: EU_DB}
    host: {target: "ssh://ro@rails.eu.example"}
  - name: us-secondary
    role: secondary
    gitlab: {url: "https://gitlab.us.example", token_env: US_TOKEN}
    registry: {url: "https://registry.us.example"}
    metadata_db: {host: db.us.example, dbname: registry, user: ro, password_env: US_DB}
    hosts:
      - {target: "ssh://ro@rails.us.example", roles: [rails]}
      - {target: "ssh://ro@sidekiq.us.example", roles: [sidekiq]}
      - {target: "ssh://ro@registry.us.example", roles: [registry]}
"""

METHODS = (None, "one-step", "three-step")


def _lines(found: list[Row]) -> list[str]:
    return [f"{r.test_id} {r.kind} {'blocking' if r.blocking else 'advisory'}" for r in found]


def expand() -> dict[str, Any]:
    """Each profile's steps as rows: per list (requires, advises, started, during, completes)
    and import method, then the step's plan (its requires, then the advises not among them)."""
    load_catalog()
    inventory = load_inventory_text(INVENTORY, "rows.yml", resolve_secrets=False)
    out: dict[str, Any] = {}
    for name in available():
        profile = load_profile(name)
        steps: dict[str, Any] = {}
        for step in profile.steps:
            found: dict[str, Any] = {}
            for method in METHODS:
                m = method or "any"
                for kind in KINDS:
                    found[f"{kind}/{m}"] = _lines(rows(getattr(step, kind), inventory,
                                                       blocking=kind == "requires",
                                                       method=method, kind=kind))
                found[f"plan/{m}"] = _lines(plan(step, inventory, method=method))
            steps[step.id] = found
        out[name] = steps
    return out


def test_every_profile_expands_to_the_recorded_rows() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    now = expand()
    assert sorted(now) == sorted(recorded)
    for name in recorded:
        assert now[name] == recorded[name], name


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(expand(), indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {SNAPSHOT}\n")
