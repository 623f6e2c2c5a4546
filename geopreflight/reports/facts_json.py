"""`facts.json`: every fact with its provenance (already redacted when gathered)."""

from __future__ import annotations

import json
from pathlib import Path

from . import RunReport


def write(report: RunReport, path: Path) -> None:
    path.write_text(json.dumps({"deployment": report.inventory.deployment,
                                "facts": report.facts}, indent=2, default=str) + "\n")
