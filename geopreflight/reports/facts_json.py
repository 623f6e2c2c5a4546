"""`facts.json`: every fact with its provenance (already redacted when gathered)."""

from __future__ import annotations

import json
from pathlib import Path

from ..textsafe import for_json
from .run import RunReport


def write(report: RunReport, path: Path) -> None:
    doc = {"deployment": report.inventory.deployment, "facts": report.facts}
    path.write_text(json.dumps(for_json(doc), indent=2, default=str) + "\n", encoding="utf-8")
