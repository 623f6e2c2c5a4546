"""`report.html`: one page for people: the procedure's steps and where the deployment stands,
then every check, failures first."""

from __future__ import annotations

from html import escape
from pathlib import Path

from . import RunReport

ORDER = {"fail": 0, "error": 1, "warn": 2, "waived": 3, "not-applicable": 4, "pass": 5}
COLOURS = {"fail": "#c0392b", "error": "#8e44ad", "warn": "#d68910", "pass": "#1e8449",
           "not-applicable": "#7f8c8d", "waived": "#2471a3", "complete": "#1e8449",
           "next": "#2471a3", "pending": "#7f8c8d", "unknown": "#8e44ad"}


def _badge(word: str) -> str:
    return (f'<span style="color:#fff;background:{COLOURS.get(word, "#555")};padding:1px 6px;'
            f'border-radius:3px">{escape(word)}</span>')


def write(report: RunReport, path: Path) -> None:
    p = report.profile
    steps = "".join(f"<li>{_badge(report.statuses.get(s.id, 'pending'))} <b>{escape(s.id)}</b>"
                    f" {escape(s.title)}</li>" for s in p.steps)
    rows = sorted(report.rows, key=lambda rr: (ORDER.get(rr[1].outcome, 9), not rr[0].blocking))
    body = "".join(
        f"<tr><td>{_badge(r.outcome)}</td><td>{escape(row.check.id)}</td>"
        f"<td>{escape(row.site.name if row.site else 'deployment')}</td>"
        f"<td>{escape(row.check.severity)}{'' if row.blocking else ' (advisory)'}</td>"
        f"<td>{escape(row.check.title)}<br><small>{escape(r.message)}</small>"
        + (f"<br><small><b>Fix:</b> {escape(row.check.remediation)} "
           f'<a href="{escape(row.check.doc)}">doc</a></small>'
           if r.outcome in ("fail", "warn", "error") else "")
        + "</td></tr>" for row, r in rows)
    notes = "".join(f"<p>{escape(n)}</p>" for n in report.notes)
    path.write_text(
        "<!doctype html><meta charset=utf-8><title>geopreflight</title>"
        "<body style='font-family:sans-serif;max-width:70em;margin:auto'>"
        f"<h1>{escape(report.inventory.deployment)}: {escape(p.name)}</h1>"
        f"<p><a href='{escape(p.doc)}'>{escape(p.title)}</a></p>"
        f"<h2>{_badge(report.verdict)} step {escape(report.step_label)}</h2>{notes}"
        f"<ol>{steps}</ol><table cellpadding=4><tr><th>outcome<th>check<th>site<th>severity"
        f"<th>what</tr>{body}</table><p><small>started {report.started_at.isoformat()}, "
        f"{report.duration_s:.2f} s</small></p></body>\n")
