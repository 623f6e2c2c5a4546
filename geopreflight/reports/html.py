"""`report.html`: one self-contained page for people: the verdict worded as in the terminal,
the counts, the procedure's steps with the judged one marked, then the rows grouped by site,
failures first and passes folded away, each with its anchor, observed and expected values, the
fix and a link to GitLab's documentation."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from .. import __version__
from ..catalog import Outcome, Result
from ..i18n import _, ja_page, lang, ngettext
from ..position import StepStatus
from ..profiles import Row
from ..textsafe import for_xml
from ..verdict import Verdict
from .run import RunReport, fix_of
from .terminal import (
    MARKS,
    SHOWN,
    STATUSES,
    Cause,
    Causes,
    error_fix,
    shared_causes,
    verdict_reasons,
    verdict_word,
)

ORDER = {o: i for i, o in enumerate((Outcome.FAIL, Outcome.ERROR, Outcome.WARN, Outcome.WAIVED,
                                     Outcome.NOT_APPLICABLE, Outcome.PASS))}
FOLDED = (Outcome.PASS, Outcome.NOT_APPLICABLE)
# background colours for white text, each at least 4.5:1 (WCAG AA; tests/test_html.py checks)
COLOURS = {Outcome.FAIL: "#a61b1b", Outcome.ERROR: "#6b2d8c", Outcome.WARN: "#7a4f00",
           Outcome.PASS: "#1e6b34",
           Outcome.NOT_APPLICABLE: "#555555", Outcome.WAIVED: "#1f5f94",
           Verdict.READY: "#1e6b34", Verdict.COMPLETE: "#1e6b34", Verdict.NOT_READY: "#a61b1b",
           Verdict.IN_PROGRESS: "#7a4f00", Verdict.CANNOT_DETERMINE: "#6b2d8c",
           StepStatus.COMPLETE: "#1e6b34", StepStatus.IN_PROGRESS: "#7a4f00",
           StepStatus.NEXT: "#1f5f94", StepStatus.PENDING: "#555555",
           StepStatus.UNKNOWN: "#6b2d8c"}
STYLE = """
body{font:16px/1.45 system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:0}
main{max-width:60rem;margin:auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .4rem}
a{color:#1f4f94}.badge{color:#fff;padding:.05rem .4rem;border-radius:.2rem;
white-space:nowrap;font-weight:600;font-size:.85rem}
.verdict{color:#fff;padding:.6rem .8rem;border-radius:.3rem;font-size:1.05rem;
overflow-wrap:anywhere}.verdict strong{font-size:1.25rem;margin-right:.3rem}
ol.steps{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
ol.steps li{border:2px solid #767676;border-radius:.3rem;padding:.2rem .5rem}
ol.steps li.judged{border-color:#1a1a1a;border-width:3px;font-weight:700}
ul.rows{list-style:none;padding:0;margin:0}
ul.rows li{border-top:1px solid #d0d0d0;padding:.5rem 0;overflow-wrap:anywhere}
.id{font-family:ui-monospace,monospace;white-space:nowrap;font-weight:700}
.meta{color:#4a4a4a;font-size:.9rem}dl{margin:.3rem 0}dt{font-weight:600;float:left;
margin-right:.4rem}dd{margin:0 0 .2rem 0}code{background:#f2f2f2;padding:0 .2rem}
details{margin:.5rem 0}summary{cursor:pointer}footer{color:#4a4a4a;font-size:.85rem;
overflow-wrap:anywhere;margin-top:2rem}
"""


def _badge(word: str, label: str | None = None) -> str:
    return (f'<span class="badge" style="background:{COLOURS.get(word, "#555555")}">'
            f"{escape(label or word)}</span>")


def anchor(row: Row) -> str:
    """`DB-003-us-secondary`: a stable link to one row."""
    return f"{row.check.id}-{row.site.name if row.site else 'deployment'}"


def _doc_link(url: str, text: str) -> str:
    """A link to GitLab's page; in Japanese the Japanese page, with the English one beside."""
    translated = ja_page(url)
    link = f'<a href="{escape(translated)}">{escape(text)}</a>'
    if translated != url:
        english = escape(_("English"))
        link += f' (<a href="{escape(url)}" hreflang="en">{english}</a>)'
    return link


def _row(row: Row, result: Result, causes: Causes, shared: dict[Cause, int]) -> str:
    check, cause = row.check, causes.of(result)
    title = _(check.title)
    gate = _("blocking") if row.blocking else _("advisory")
    parts = [f'<li id="{escape(anchor(row))}">'
             f"{_badge(result.outcome, _(SHOWN[result.outcome]))} "
             f'<a class="id" href="#{escape(anchor(row))}">{escape(check.id)}</a> '
             f"{escape(title)} <span class=meta>{escape(check.severity)}, "
             f"{escape(gate)}</span>",
             f"<div>{escape(result.message)}</div>"]
    values = [(name, v) for name, v in ((_("observed"), result.observed),
                                        (_("expected"), result.expected)) if v is not None]
    if values:
        parts.append("<dl>" + "".join(f"<dt>{escape(n)}</dt><dd><code>{escape(str(v))}</code>"
                                      "</dd>" for n, v in values) + "</dl>")
    if cause in shared:  # told once, in the causes block at the top
        see = escape(_("Not evaluated: see {link} ({cause}).")).format(
            link=f'<a href="#cause-{shared[cause]}">'
                 + escape(_("cause {n}").format(n=shared[cause])) + "</a>",
            cause=escape(cause.short))
        parts.append(f"<div>{see}</div>")
    elif result.outcome in (Outcome.FAIL, Outcome.WARN, Outcome.ERROR):
        fix = (error_fix(row, result, cause) if result.outcome == Outcome.ERROR
               else fix_of(row, result))
        why = escape(_("Not evaluated because {cause}. ").format(cause=cause.text)) \
            if cause is not None else ""
        label = escape(_("Fix:"))
        parts.append(f"<div>{why}<strong>{label}</strong> {escape(fix)}</div>")
    parts.append("<div class=meta>" + _doc_link(check.doc, _(
        "GitLab documentation for {id}: {title}").format(id=check.id, title=title))
        + "</div></li>")
    return "\n".join(parts)


def _site(title: str, key: str, rows: list[tuple[Row, Result]], causes: Causes,
          shared: dict[Cause, int]) -> str:
    rows = sorted(rows, key=lambda rr: (ORDER.get(rr[1].outcome, 9), not rr[0].blocking))
    shown = [rr for rr in rows if rr[1].outcome not in FOLDED]
    folded = [rr for rr in rows if rr[1].outcome in FOLDED]
    html = [f'<section id="site-{escape(key)}" aria-labelledby="h-{escape(key)}">'
            f'<h2 id="h-{escape(key)}">{escape(title)}</h2>']
    if shown:
        html.append('<ul class="rows">' + "".join(_row(r, x, causes, shared) for r, x in shown)
                    + "</ul>")
    if folded:
        passed = sum(1 for _r, x in folded if x.outcome == Outcome.PASS)
        html.append("<details><summary>" + escape(_(
            "{passed} passed, {na} not applicable").format(passed=passed,
                                                          na=len(folded) - passed))
                    + '</summary><ul class="rows">'
                    + "".join(_row(r, x, causes, shared) for r, x in folded) + "</ul></details>")
    return "".join(html) + "</section>"


def _content(report: RunReport) -> str:
    """The content counts that proved each import: storage beside the metadata DB (and the
    database it was moved from, where the inventory names one)."""
    unread = escape(_("not read"))

    def cell(side: dict[str, Any] | None) -> str:
        if side is None:
            return f"<td colspan=2>{unread}</td>"
        return f"<td>{side['repositories']}</td><td>{side['tags']}</td>"

    content = report.content()
    moved = any("moved_from" in c for c in content)  # a column pair only when one is named
    rows = "".join(f"<tr><th scope=row>{escape(c['site'])}</th>{cell(c['storage'])}"
                   f"{cell(c['database'])}"
                   + (cell(c.get("moved_from")) if moved else "") + "</tr>" for c in content)
    if not rows:
        return ""
    heads = "".join(f"<th>{escape(h)}</th>" for h in (
        _("site"), _("storage repositories"), _("storage tags"), _("database repositories"),
        _("database tags"),
        *((_("old database repositories"), _("old database tags")) if moved else ())))
    title = escape(_("Content: legacy storage and metadata database"))
    return f'<h2>{title}</h2><table id="content"><tr>{heads}</tr>{rows}</table>'


def render(report: RunReport) -> str:
    """The page as one string (no external CSS, script, font or image), in the run's
    language (`lang` says which)."""
    p = report.profile
    causes = Causes(report.facts, report.inventory)
    words = verdict_word(report.verdict)
    why = verdict_reasons(report, report.rows, report.deselected).removeprefix(_(", ")).strip()
    counts: dict[str, int] = {}
    for _r, result in report.rows:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    count_html = _(", ").join(f"{_badge(o, _(SHOWN[o]))} {counts[o]}"
                              for o in ORDER if counts.get(o))
    steps, judged_mark = [], escape(_(" (judged)"))
    for i, s in enumerate(p.steps, 1):
        status = report.statuses.get(s.id, StepStatus.PENDING)
        judged = s.id == report.step
        steps.append(f'<li class="{"judged" if judged else ""}"'
                     f'{" aria-current=step" if judged else ""} data-status="{status}">'
                     f"{MARKS.get(status, '?')} {i}. {escape(s.id)} "
                     f"{_badge(status, _(STATUSES.get(status, status)))}"
                     f"{judged_mark if judged else ''}"
                     f"<div class=meta>{escape(_(s.title))}</div></li>")
    groups: dict[str, list[tuple[Row, Result]]] = {"deployment": []}
    for site in report.inventory.sites:
        groups[site.name] = []
    for row, result in report.rows:
        groups.setdefault(row.site.name if row.site else "deployment", []).append((row, result))
    roles = {s.name: s.role for s in report.inventory.sites}
    shared = shared_causes(report.rows, causes)
    numbers = {c: i for i, (c, _rows) in enumerate(shared, 1)}
    sections = "".join(_site(f"{name} ({roles[name]})" if name in roles else
                             _("Deployment-wide checks"), name, rows, causes, numbers)
                       for name, rows in groups.items() if rows)
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    documentation = escape(_("(GitLab documentation)"))
    todo = "".join(
        f"<li><strong>{escape(a.site or 'deployment')}</strong>: {escape(a.text)}"
        + (f"<br><code>{escape(a.command)}</code>" if a.command else "")
        + f' <a href="{escape(a.doc)}">{documentation}</a></li>' for a in report.next)
    first = next(((r, x) for r, x in report.rows
                  if x.outcome in (Outcome.FAIL, Outcome.ERROR, Outcome.WARN)), None)
    act = ""
    if first is not None:
        row, result = first
        cause = causes.of(result)
        label = escape(_("First to act on:"))
        act = (f'<p id="first"><strong>{label}</strong> <a href="#'
               f'{escape(anchor(row))}">{escape(row.check.id)} '
               f"{escape(row.site.name if row.site else 'deployment')}</a>: "
               f"{escape(error_fix(row, result, cause))}</p>")
    fix_label = escape(_("Fix:"))
    cause_html = "".join(
        f'<li id="cause-{numbers[c]}"><strong>{numbers[c]}. {escape(c.text)}</strong> ('
        + escape(ngettext("{n} row not evaluated:", "{n} rows not evaluated:",
                          len(rows)).format(n=len(rows))) + " "
        + ", ".join(f'<a href="#{escape(anchor(r))}">{escape(r.test_id)}</a>' for r in rows)
        + f")<br><strong>{fix_label}</strong> {escape(c.fix)}</li>" for c, rows in shared)
    title = f"{report.inventory.deployment}: {p.name} {report.step_label}: {words}"
    step = _("step {step} of {profile} (exit code {code})").format(
        step=report.step_label, profile=p.name, code=report.exit_code)
    rows = ngettext("{n} row:", "{n} rows:", len(report.rows)).format(n=len(report.rows))
    link = _doc_link(p.doc, _("{title} (GitLab documentation)").format(title=_(p.title)))
    footer = escape(_("Procedure: {link}. Started {started}, took {seconds} s; geopreflight "
                      "{version}; inventory SHA-256 {sha}.")).format(
        link=link, started=escape(report.started_at.isoformat()),
        seconds=f"{report.duration_s:.2f}", version=escape(__version__),
        sha=escape(report.inventory.sha256))
    labels = {k: escape(v) for k, v in (("steps", _("Procedure steps")), ("notes", _("Notes")),
                                        ("causes", _("Causes")), ("next", _("Next")))}
    return (
        f'<!doctype html>\n<html lang="{lang()}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{escape(report.inventory.deployment)}: {escape(_(p.title))}</h1>"
        f'<p id="verdict" class="verdict" role="status" data-verdict="{report.verdict}" '
        f'style="background:{COLOURS.get(report.verdict, "#555555")}"><strong>'
        f"{escape(words)}</strong>{escape(why)}<br>{escape(step)}</p>"
        + act
        + (f'<h2>{labels["causes"]}</h2><ul id="causes">{cause_html}</ul>' if cause_html
           else "")
        + (f'<h2>{labels["next"]}</h2><ul id="next">{todo}</ul>' if todo else "")
        + f'<p id="counts">{escape(rows)} {count_html}</p>'
        f'<nav aria-label="{labels["steps"]}"><ol class="steps" id="steps">'
        f'{"".join(steps)}</ol></nav>'
        + (f'<h2>{labels["notes"]}</h2><ul id="notes">{notes}</ul>' if notes else "")
        + _content(report)
        + _window(report)
        + sections
        + f"<footer>{footer}</footer></main></body></html>\n")


def _window(report: RunReport) -> str:
    """The change window: the estimate before an import step, the measured imports."""
    from ..estimate import format_duration as d

    def head(*names: str) -> str:
        return "<tr>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"

    def cells(*values: object) -> str:
        return "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in values) + "</tr>"

    access = {True: _("read-only"), False: _("read-write")}
    span = _("{low} to {high}")
    out = ""
    if report.estimate:
        out += ("<h2>" + escape(_("Estimate")) + '</h2><table id="estimate">'
                + head(_("site"), _("phase"), _("registry"), _("duration"), _("basis"))
                + "".join(cells(e["site"], e["phase"], access[bool(e["read_only"])],
                                span.format(low=d(e["low_s"]), high=d(e["high_s"])), e["basis"])
                          for e in report.estimate) + "</table>")
    if report.measured:
        out += ("<h2>" + escape(_("Measured imports")) + '</h2><table id="measured">'
                + head(_("site"), _("phase"), _("duration"), _("tags"), _("storage"))
                + "".join(cells(m["site"], m["phase"], d(m["seconds"]), m["tags"],
                                m["storage_driver"]) for m in report.measured) + "</table>")
    return out


def write(report: RunReport, path: Path) -> None:
    """The page, with what HTML cannot carry (controls, noncharacters, lone surrogates)
    replaced: the page itself writes none of them."""
    path.write_text(for_xml(render(report)), encoding="utf-8")
