"""`summary.json`: the machine-readable verdict (schema: tests/schemas/summary.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..catalog import Outcome
from ..i18n import _
from ..position import StepStatus
from ..textsafe import for_json
from .run import RunReport, fix_of


def build(report: RunReport) -> dict[str, Any]:
    return {
        "profile": report.profile.name,
        "requested_step": report.requested_step,
        "step": report.step,
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "started_at": report.started_at.isoformat().replace("+00:00", "Z"),
        "duration_s": round(report.duration_s, 3),
        "tool_version": __version__,
        "inventory_sha256": report.inventory.sha256,
        "deployment": report.inventory.deployment,
        "notes": report.notes,
        "steps": [{"id": s.id, "status": report.statuses.get(s.id, StepStatus.PENDING)}
                  for s in report.profile.steps],
        "content": report.content(),
        "checks": [{
            "id": row.check.id,
            "site": row.site.name if row.site else None,
            **({"host": row.host} if row.host else {}),  # a node of the site's hosts:
            "outcome": result.outcome,
            "severity": row.check.severity,
            "blocking": row.blocking,
            "title": _(row.check.title),
            "message": result.message,
            **({"observed": result.observed} if result.observed is not None else {}),
            **({"expected": result.expected} if result.expected is not None else {}),
            **({"remediation": fix_of(row, result)}
               if result.outcome in (Outcome.FAIL, Outcome.WARN, Outcome.ERROR) else {}),
            "doc": row.check.doc,
        } for row, result in report.rows],
        **({"next": [action.as_dict() for action in report.next]} if report.next else {}),
        **({"estimate": report.estimate} if report.estimate else {}),
        **({"measured": report.measured} if report.measured else {}),
    }


def write(report: RunReport, path: Path) -> None:
    path.write_text(json.dumps(for_json(build(report)), indent=2) + "\n", encoding="utf-8")
