"""`junit.xml`, written with junit-xml: one suite per site plus one for deployment-wide rows,
one case per row, with the id, title, site and severity readable in every case."""

from __future__ import annotations

from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from ..i18n import _, doc
from . import RunReport
from .terminal import SHOWN

DEPLOYMENT = "deployment"


def _case(report: RunReport, row, result) -> TestCase:
    site = row.site.name if row.site else DEPLOYMENT
    where = f"{site} host {row.host}" if row.host else site
    check = row.check
    link = _("doc: {link}").format(link=doc(check.doc))
    case = TestCase(
        name=_("{id} [{where}] {title} (severity: {severity})").format(
            id=check.id, where=where, title=_(check.title), severity=check.severity),
        classname=f"geopreflight.{report.profile.name}.{check.id}",
        stdout=f"{_(SHOWN[result.outcome])}: {result.message}\n"
               + _("site: {site}").format(site=site) + "\n"
               + (_("host: {host}").format(host=row.host) + "\n" if row.host else "")
               + _("severity: {severity}").format(severity=check.severity) + "\n"
               + _("blocking: {blocking}").format(blocking=str(row.blocking).lower())
               + "\n" + link,
    )
    detail = "\n".join(filter(None, [
        _("observed: {value}").format(value=result.observed)
        if result.observed is not None else "",
        _("expected: {value}").format(value=result.expected)
        if result.expected is not None else "",
        _("remediation: {fix}").format(fix=_(check.remediation)), link]))
    if result.outcome == "fail":
        case.add_failure_info(message=result.message, output=detail, failure_type="fail")
    elif result.outcome == "error":
        case.add_error_info(message=result.message, output=detail, error_type="cannot-evaluate")
    elif result.outcome == "not-applicable":
        case.add_skipped_info(message=_("not applicable: {reason}").format(
            reason=result.message))
    return case


def write(report: RunReport, path: Path) -> None:
    suites: dict[str, list[TestCase]] = {}
    for site in report.inventory.sites:
        suites[site.name] = []
    suites[DEPLOYMENT] = []
    for row, result in report.rows:
        suites[row.site.name if row.site else DEPLOYMENT].append(_case(report, row, result))
    xml = to_xml_report_string([
        TestSuite(f"{report.profile.name} {name}", cases,
                  timestamp=report.started_at.isoformat().replace("+00:00", "Z"))
        for name, cases in suites.items() if cases])
    path.write_text(xml)
