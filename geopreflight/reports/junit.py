"""`junit.xml`, written with junit-xml: one suite per site plus one for deployment-wide rows,
one case per row, with the id, title, site and severity readable in every case.

Written for GitLab's test report, whose parser (lib/gitlab/ci/parsers/test/junit.rb) reads each
case's `failure`, `error` or `skipped` element through `Hash.from_xml`: an element with text
becomes that text and its attributes are dropped, while one without text reaches the page as a
serialized hash. So every such element carries its whole story as text (what was found, the
fix, the doc, where report.html shows the row); an error row's story is its cause and the
cause's fix; a warning, which GitLab shows as a pass, is named in the suite's name and its
properties; each case's time is the longest probe among the facts its check read. Every text
goes through `for_xml`: a character XML cannot carry (U+FFFE, a lone surrogate) in a
deployment's value must not cost the run its report."""

from __future__ import annotations

from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from ..catalog import Outcome
from ..i18n import _, doc
from ..textsafe import for_xml
from .html import anchor
from .run import RunReport, fix_of
from .terminal import SHOWN, Causes, error_fix

DEPLOYMENT = "deployment"


def _case(report: RunReport, row, result, causes: Causes) -> TestCase:
    site = row.site.name if row.site else DEPLOYMENT
    where = f"{site} host {row.host}" if row.host else site
    check = row.check
    link = _("doc: {link}").format(link=doc(check.doc))
    case = TestCase(
        name=for_xml(_("{id} [{where}] {title} (severity: {severity})").format(
            id=check.id, where=where, title=_(check.title), severity=check.severity)),
        classname=for_xml(f"geopreflight.{report.profile.name}.{check.id}"),
        elapsed_sec=round(result.probe_s, 3),
        stdout=for_xml(f"{_(SHOWN[result.outcome])}: {result.message}\n"
                       + _("site: {site}").format(site=site) + "\n"
                       + (_("host: {host}").format(host=row.host) + "\n" if row.host else "")
                       + _("severity: {severity}").format(severity=check.severity) + "\n"
                       + _("blocking: {blocking}").format(blocking=str(row.blocking).lower())
                       + "\n" + link
                       + ("\n" + _("fix: {fix}").format(fix=fix_of(row, result))
                          if result.outcome == Outcome.WARN else "")),
    )
    cause = causes.of(result)
    if result.outcome == Outcome.ERROR:
        message = (_("not evaluated because {cause}").format(cause=cause.text)
                   if cause is not None else result.message)
        fix = error_fix(row, result, cause)
    else:
        message, fix = result.message, fix_of(row, result)
    page = f"{report.html_path}#{anchor(row)}" if report.html_path else ""
    text = for_xml("\n".join(filter(None, [
        f"{_(SHOWN[result.outcome])}: {message}",
        _("observed: {value}").format(value=result.observed)
        if result.observed is not None else "",
        _("expected: {value}").format(value=result.expected)
        if result.expected is not None else "",
        _("fix: {fix}").format(fix=fix), link, f"report: {page}" if page else ""])))
    message, fix = for_xml(message), for_xml(fix)
    if result.outcome == Outcome.FAIL:
        case.add_failure_info(message=message, output=text, failure_type="fail")
    elif result.outcome == Outcome.ERROR:
        case.add_error_info(message=f"{message}; fix: {fix}", output=text,
                            error_type="cannot-evaluate")
    elif result.outcome == Outcome.NOT_APPLICABLE:
        reason = for_xml(_("not applicable: {reason}").format(reason=result.message))
        case.add_skipped_info(message=reason, output=reason)
    return case


def write(report: RunReport, path: Path) -> None:
    causes = Causes(report.facts, report.inventory)
    suites: dict[str, list] = {}
    for site in report.inventory.sites:
        suites[site.name] = []
    suites[DEPLOYMENT] = []
    for row, result in report.rows:
        suites[row.site.name if row.site else DEPLOYMENT].append((row, result))
    built = []
    for name, rows in suites.items():
        if not rows:
            continue
        warns = sum(1 for _row, r in rows if r.outcome == Outcome.WARN)
        label = f"{report.profile.name} {name}" + (
            f" (WARN: {warns} warning{'s' if warns != 1 else ''})" if warns else "")
        built.append(TestSuite(
            for_xml(label), [_case(report, row, result, causes) for row, result in rows],
            timestamp=report.started_at.isoformat().replace("+00:00", "Z"),
            properties={"verdict": str(report.verdict), "warnings": str(warns)}))
    path.write_text(to_xml_report_string(built), encoding="utf-8")
