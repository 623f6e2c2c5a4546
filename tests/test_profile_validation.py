"""Profile validation: unknown check ids, duplicate steps, bad roles and malformed files are
usage errors naming the file and the line; the shipped profiles all load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from geopreflight.errors import UsageError
from geopreflight.profiles import PROFILE_DIR, available, load_profile
from geopreflight.suite import load_catalog

DESIGN_STEPS = {
    "new-instance": ["setup-geo", "setup-metadata-db", "configure-replication"],
    "add-registry-to-geo": ["enable-secondary-registry", "setup-metadata-db",
                            "configure-replication"],
    "add-geo-and-registry": ["setup-geo", "enable-registry-and-metadata-db",
                             "configure-replication"],
    "add-geo-external-db": ["setup-geo", "secondary-registry-and-metadata-db",
                            "configure-replication"],
    "add-geo-default-db": ["move-metadata-db", "setup-geo", "secondary-registry-and-metadata-db",
                           "configure-replication"],
    "migrate-legacy": ["prerequisites", "import-secondary", "import-primary",
                       "verify-replication"],
}

GOOD = """\
profile: p
title: A test profile
doc: https://docs.gitlab.com/administration/
steps:
  - id: one
    title: First
    requires: [VER-001, {check: GEO-003, roles: [secondary]}]
  - id: two
    title: Second
    requires: [GEO-001]
    completes: [GEO-002]
"""


@pytest.fixture(autouse=True, scope="module")
def _catalog() -> None:
    load_catalog()


def test_the_six_profiles_have_the_design_steps() -> None:
    assert sorted(available()) == sorted(DESIGN_STEPS)
    for name, steps in DESIGN_STEPS.items():
        profile = load_profile(name)
        assert [s.id for s in profile.steps] == steps
        assert profile.doc.startswith("https://docs.gitlab.com/")
        assert all(s.requires for s in profile.steps), f"{name}: a step gates on nothing"


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "p.yml").write_text(textwrap.dedent(text))
    return tmp_path


def test_a_good_profile_loads(tmp_path: Path) -> None:
    profile = load_profile("p", write(tmp_path, GOOD))
    assert [s.id for s in profile.steps] == ["one", "two"]
    assert profile.steps[0].requires[1].roles == ("secondary",)


@pytest.mark.parametrize("old,new,line,expected", [
    ("requires: [GEO-001]", "requires: [GEO-999]", 10, "unknown check id 'GEO-999'"),
    ("  - id: two", "  - id: one", 8, "duplicate step 'one'"),
    ("roles: [secondary]", "roles: [tertiary]", 7, "unknown role 'tertiary'"),
    ("{check: GEO-003, roles: [secondary]}", "{check: GEO-003, roles: [primary]}", 7,
     "applies to secondary only"),
    ("title: First", "title: [First", 7, "not valid YAML"),
    ("    completes: [GEO-002]", "    complete: [GEO-002]", 11, "unknown key"),
    ("profile: p", "profile: q", 1, "expected 'p'"),
    ("requires: [GEO-001]", "requires: [42]", 10, "expected a check id"),
])
def test_mistakes_name_file_and_line(tmp_path: Path, old: str, new: str, line: int,
                                     expected: str) -> None:
    assert old in GOOD
    with pytest.raises(UsageError) as exc:
        load_profile("p", write(tmp_path, GOOD.replace(old, new, 1)))
    assert str(exc.value).startswith(f"{tmp_path / 'p.yml'}:{line}: "), str(exc.value)
    assert expected in str(exc.value)


def test_unknown_profile_lists_the_profiles() -> None:
    with pytest.raises(UsageError) as exc:
        load_profile("migrate-legacyy")
    assert "unknown profile" in str(exc.value)
    assert all(name in str(exc.value) for name in DESIGN_STEPS)


def test_profiles_dir_is_the_shipped_one() -> None:
    assert (PROFILE_DIR / "migrate-legacy.yml").is_file()
