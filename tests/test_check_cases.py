"""Every check's unit cases (`geopreflight/checks/cases_*.py`): recorded facts, a patch, the
outcome.

No lab: the facts are recorded runs in `geopreflight/checks/recorded/`, so these run in
milliseconds and show exactly which fact change makes a check pass, fail, warn or error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from geopreflight import cases as cases_mod
from geopreflight.cases import Case, PatchError, load_table, patch_facts, run_case
from geopreflight.suite import CHECKS_DIR, PACKAGE, load_catalog

load_catalog()
TABLE = load_table(CHECKS_DIR, PACKAGE)


@pytest.mark.parametrize("case", TABLE.cases, ids=[c.id for c in TABLE.cases])
def test_case(case: Case) -> None:
    assert not cases_mod.problems(case)
    result = run_case(case, TABLE.recorded)
    assert result.outcome == case.expected_outcome, (
        f"{case.id} ({case.why}): {result.outcome}: {result.message}")
    assert case.message in result.message, result.message


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in TABLE.cases]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_every_recorded_base_loads_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recorded inventory names secret variables; none is needed to load it."""
    for name in [k for k in os.environ if k.endswith(("_TOKEN", "_DSN", "_PASSWORD"))]:
        monkeypatch.delenv(name)
    bases = sorted(p.name.removesuffix(".inventory.yml")
                   for p in TABLE.recorded.glob("*.inventory.yml"))
    assert {c.base for c in TABLE.cases} <= set(bases)
    for base in bases:
        inventory, facts = cases_mod.load_base(TABLE.recorded, base)
        assert {s.name for s in inventory.sites} == {f["site"] for f in facts if f["site"]}


def test_patch_paths_that_lead_nowhere_are_refused() -> None:
    facts = [{"key": "db.server", "site": "a", "value": {"tables": {"tags": {"rows": 0}}},
              "error": None}]
    with pytest.raises(PatchError, match="no 'tabels'"):
        patch_facts(facts, {("db.server", "a", "tabels", "tags", "rows"): 1})
    with pytest.raises(PatchError, match="no recorded fact"):
        patch_facts(facts, {("db.server", "b", "tables"): {}})
    with pytest.raises(PatchError, match="picks 0 elements"):
        patch_facts([{"key": "g", "site": None, "value": [{"id": 1}]}],
                    {("g", None, "id=2", "name"): "x"})


def test_patch_markers() -> None:
    facts = [{"key": "s", "site": None, "value": {"t": 0, "x": 1}, "error": None}]
    out = patch_facts(facts, {("s", None, "t"): cases_mod.NOW(-60),
                              ("s", None, "x"): cases_mod.REMOVE,
                              ("new", "a"): {"seen": True}})
    assert out[0]["value"]["t"] > 1e9 and "x" not in out[0]["value"]
    assert out[1] == {"key": "new", "site": "a", "value": {"seen": True}, "error": None,
                      "source": "a case's patch", "started_at": "", "duration_s": 0.0}
    assert facts[0]["value"] == {"t": 0, "x": 1}  # the recorded facts are never changed
    assert patch_facts(facts, {("s", None): cases_mod.REMOVE}) == []
    assert patch_facts(facts, {("s", None): cases_mod.FAILED("HTTP 500")})[0]["error"] == \
        "HTTP 500"


def test_recorded_facts_hold_no_secret_value() -> None:
    """The lab's secrets are random per run; what was recorded carries the redactor's marks
    and names of variables only, never a token or a DSN with a password (a database named
    by host, port and dbname, as metadata_db.moved_from's source is, has no user info)."""
    for path in sorted(Path(TABLE.recorded).glob("*")):
        text = path.read_text()
        assert "glpat-" not in text, path
        assert not re.search(r"postgres(ql)?://[^/\s\"]*@", text), path


# A pass case's patch may rightly change nothing (the change it makes is harmless).
PATCHED = [c for c in TABLE.cases if c.patch and c.expected_outcome != "pass"]


@pytest.mark.parametrize("case", PATCHED, ids=[c.id for c in PATCHED])
def test_every_patch_matters(case: Case) -> None:
    """A finding whose patch changes nothing the check says was in the base already: the
    patch pins nothing down."""
    plain = run_case(Case(case.check_id, case.expected_outcome, case.site, case.base, {},
                          case.why), TABLE.recorded)
    patched = run_case(case, TABLE.recorded)
    assert (plain.outcome, plain.message) != (patched.outcome, patched.message)
