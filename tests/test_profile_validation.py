"""Profile validation: unknown check ids, duplicate steps, bad roles and malformed files are
usage errors naming the file and the line, in a profile as in the shared groups.yml; the
shipped profiles all load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from geopreflight.errors import UsageError
from geopreflight.profiles import GROUPS_FILE, PROFILE_DIR, available, load_profile
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


SHARED = """\
groups:
  base: [VER-001, {check: GEO-003, roles: [secondary]}]
  more: [{group: base}, GEO-001]
  unused: [GEO-004]
"""

USES_SHARED = """\
profile: p
title: A profile on the shared groups
doc: https://docs.gitlab.com/administration/
groups:
  own: [{group: base}, GEO-002]
steps:
  - id: one
    title: First
    requires: [{group: more}]
  - id: two
    title: Second
    requires: [{group: own}]
    completes: [GEO-002]
"""


def write_shared(tmp_path: Path, groups: str = SHARED, profile: str = USES_SHARED) -> Path:
    (tmp_path / GROUPS_FILE).write_text(groups)
    return write(tmp_path, profile)


def test_profiles_use_the_shared_groups_and_extend_them(tmp_path: Path) -> None:
    profile = load_profile("p", write_shared(tmp_path))
    one, two = profile.steps
    assert [(e.check.id, e.roles) for e in one.requires] == [
        ("VER-001", ("primary", "secondary")), ("GEO-003", ("secondary",)),
        ("GEO-001", ("primary", "secondary"))]
    assert [e.check.id for e in two.requires] == ["VER-001", "GEO-003", "GEO-002"]
    # --list-steps shows the shared groups the profile uses (not `unused`), then its own
    assert [name for name, _ in profile.groups] == ["base", "more", "own"]
    assert available(tmp_path) == ["p"]  # groups.yml is no profile (--profile=help)


def test_the_shipped_profiles_share_the_baseline_from_one_file() -> None:
    """Adding a check to the baseline is one edit of groups.yml, seen by every profile."""
    using = [name for name in available()
             if "baseline" in dict(load_profile(name).groups)]
    assert len(using) == 5 and "migrate-legacy" not in using
    assert "baseline:" in (PROFILE_DIR / GROUPS_FILE).read_text()
    assert not any("baseline:" in (PROFILE_DIR / f"{name}.yml").read_text() for name in using)


@pytest.mark.parametrize("file,old,new,line,expected", [
    # a step naming a group declared nowhere
    ("p.yml", "requires: [{group: more}]", "requires: [{group: mroe}]", 9,
     "unknown group 'mroe'"),
    # a shared group redefined by a profile: an error, never a silent override
    ("p.yml", "  own: [", "  base: [", 5, "'base' is a shared group (groups.yml)"),
    # in groups.yml: a group naming a group declared nowhere (or further down)
    (GROUPS_FILE, "more: [{group: base}", "more: [{group: unused}", 3, "unknown group 'unused'"),
    (GROUPS_FILE, "unused: [GEO-004]", "unused: [GEO-404]", 4, "unknown check id 'GEO-404'"),
    (GROUPS_FILE, "  base: [VER-001,", "  base: [VER-001,,", 2, "not valid YAML"),
    (GROUPS_FILE, "groups:", "group:", 1, "unknown key"),
    (GROUPS_FILE, "{check: GEO-003, roles: [secondary]}", "{check: GEO-003, roles: [primary]}",
     2, "applies to secondary only"),
])
def test_mistakes_in_the_shared_groups_name_file_and_line(
        tmp_path: Path, file: str, old: str, new: str, line: int, expected: str) -> None:
    texts = {GROUPS_FILE: SHARED, "p.yml": USES_SHARED}
    assert old in texts[file]
    texts[file] = texts[file].replace(old, new, 1)
    with pytest.raises(UsageError) as exc:
        load_profile("p", write_shared(tmp_path, texts[GROUPS_FILE], texts["p.yml"]))
    assert str(exc.value).startswith(f"{tmp_path / file}:{line}: "), str(exc.value)
    assert expected in str(exc.value)
