"""The catalog test: every check runs somewhere, is pinned down by cases, and is named by id.

A check left out of every profile silently never runs; a check without a passing and a
failing unit case is untested; a check whose function name does not carry its id cannot be
found from a report. Adding a check means its code, its metadata, its cases and its place in
the profiles: this test fails until all four are there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from geopreflight import profiles
from geopreflight.cases import Table, load_table
from geopreflight.catalog import CATALOG, CheckMeta, Fail, check
from geopreflight.suite import CHECKS_DIR, PACKAGE, load_catalog

FAILING = {"fail", "warn"}  # warn: an advisory-only check's finding


def profiled_ids(names: Iterable[str]) -> set[str]:
    """The check ids any step of these profiles names (requires, advises or completes)."""
    out = set()
    for name in names:
        for step in profiles.load_profile(name).steps:
            for kind in profiles.KINDS:
                out.update(entry.check.id for entry in getattr(step, kind))
    return out


def catalog_problems(catalog: Mapping[str, CheckMeta], in_profiles: set[str],
                     table: Table) -> list[str]:
    """What keeps the catalog from being whole, one line per problem."""
    outcomes = table.outcomes()
    out = []
    for cid, meta in sorted(catalog.items()):
        if cid not in in_profiles:
            out.append(f"{cid}: in no profile (profile_files/*.yml); it would never run")
        seen = outcomes.get(cid, set())
        failing = FAILING | ({"error"} if cid in table.error_only else set())
        if "pass" not in seen:
            out.append(f"{cid}: no pass case in checks/cases_*.py")
        if not seen & failing:
            out.append(f"{cid}: no {' or '.join(sorted(failing))} case in checks/cases_*.py")
        area, num = cid.lower().split("-")
        name = meta.func.__name__ if meta.func else "(no function)"
        if not re.fullmatch(rf"test_{area}_{num}(_[a-z0-9_]+)?", name):
            out.append(f"{cid}: its function {name} should be named test_{area}_{num}_<what>")
    for cid in sorted(set(outcomes) - set(catalog)):
        out.append(f"{cid}: cases for a check that is not in the catalog")
    for cid in sorted(table.error_only):
        if "error" not in outcomes.get(cid, set()):
            out.append(f"{cid}: ERROR_ONLY, but it has no error case")
    return out


GITLAB_URL = re.compile(r"https://(docs\.)?gitlab\.com/\S+")
OUTSIDE = re.compile(r"fact[ -]sheet|lab[ -]notes|gitlab-facts", re.IGNORECASE)


def rationale_problems(catalog: Mapping[str, CheckMeta]) -> list[str]:
    """Rationales that do not stand on their own: no GitLab URL (docs, source or issue), or a
    pointer to a document outside the repository."""
    out = []
    for cid, meta in sorted(catalog.items()):
        if not GITLAB_URL.search(meta.rationale):
            out.append(f"{cid}: its rationale cites no docs.gitlab.com or gitlab.com URL")
        if found := OUTSIDE.search(meta.rationale):
            out.append(f"{cid}: its rationale points at {found.group(0)!r}, outside the "
                       "repository")
    return out


@pytest.fixture(scope="module")
def table() -> Table:
    load_catalog()
    return load_table(CHECKS_DIR, PACKAGE)


def test_the_catalog_is_whole(table: Table) -> None:
    assert catalog_problems(CATALOG, profiled_ids(profiles.available()), table) == []


def test_every_check_module_declares_checks(table: Table) -> None:
    """The catalog is what the modules of checks/ declare: none is left unimported."""
    areas = {cid.split("-")[0].lower() for cid in CATALOG}
    assert areas == {p.stem.removeprefix("test_") for p in CHECKS_DIR.glob("test_*.py")}
    assert areas == {p.stem.removeprefix("cases_") for p in CHECKS_DIR.glob("cases_*.py")}


def test_a_new_check_without_profile_or_cases_is_reported(table: Table) -> None:
    @check("VER-999", title="Throwaway", severity="low", rationale="r", remediation="x",
           doc="https://docs.gitlab.com/")
    def test_ver_999_throwaway(ctx: object) -> None:
        raise Fail("never")

    try:
        found = catalog_problems(CATALOG, profiled_ids(profiles.available()), table)
    finally:
        del CATALOG["VER-999"]
    assert found == ["VER-999: in no profile (profile_files/*.yml); it would never run",
                     "VER-999: no pass case in checks/cases_*.py",
                     "VER-999: no fail or warn case in checks/cases_*.py"]


def test_a_check_named_for_another_id_is_refused_when_declared() -> None:
    """The catalog refuses a misnamed check at import, so it never reaches a run; the
    catalog test's own name rule backs that up for anything registered another way."""
    with pytest.raises(ValueError, match="must be named test_ver_998_"):
        @check("VER-998", title="Throwaway", severity="low", rationale="r", remediation="x",
               doc="https://docs.gitlab.com/")
        def test_ver_989_misnamed(ctx: object) -> None:
            return None
    assert "VER-998" not in CATALOG


def test_an_error_case_counts_as_failing_only_for_an_error_only_check(table: Table) -> None:
    """GEO-006 can only pass or be an error; DB-004 can fail, so its error case is not its
    failing case."""
    only = {cid: CATALOG[cid] for cid in ("GEO-006", "DB-004")}
    errors_only = Table(tuple(c for c in table.cases if c.check_id in only
                              and c.expected_outcome in ("pass", "error")),
                        {"GEO-006": table.error_only["GEO-006"]}, table.recorded)
    assert catalog_problems(only, set(only), errors_only) == [
        "DB-004: no fail or warn case in checks/cases_*.py"]


def test_every_rationale_cites_gitlab_and_nothing_outside_the_repository(table: Table) -> None:
    assert rationale_problems(CATALOG) == []


def test_what_ships_points_at_nothing_outside_the_repository() -> None:
    """The package, its checks and profiles cite GitLab itself: the fact sheet and the lab
    notes are the developers' documents, not the operators'."""
    root = Path(__file__).resolve().parent.parent
    found = [f"{path.relative_to(root)}:{n}: {hit.group(0)!r}"
             for folder in ("geopreflight",)
             for path in sorted((root / folder).rglob("*")) if path.suffix in (".py", ".yml")
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if (hit := OUTSIDE.search(line))]
    assert found == []


def test_a_rationale_without_a_gitlab_url_or_citing_the_fact_sheet_is_reported() -> None:
    def meta(cid: str, rationale: str) -> CheckMeta:
        return dataclasses.replace(CATALOG["VER-001"], id=cid, rationale=rationale)

    found = rationale_problems({
        "VER-901": meta("VER-901", "Registry v4.39 needs PostgreSQL 15 (fact sheet, B1)."),
        "VER-902": meta("VER-902", "See https://example.com/gitlab.com/ (Lab Notes, 1)."),
        "VER-903": meta("VER-903", "GA in 17.3 (https://docs.gitlab.com/administration/)."),
        "VER-904": meta("VER-904", "See https://gitlab.com/gitlab-org/gitlab/-/issues/458440."),
    })
    assert found == [
        "VER-901: its rationale cites no docs.gitlab.com or gitlab.com URL",
        "VER-901: its rationale points at 'fact sheet', outside the repository",
        "VER-902: its rationale cites no docs.gitlab.com or gitlab.com URL",
        "VER-902: its rationale points at 'Lab Notes', outside the repository"]
