"""Version ordering: numbers compare as numbers, pre-releases come before their release."""

import pytest

from geopreflight.versions import at_least, parse


@pytest.mark.parametrize("older,newer", [
    ("17.3.0-ee", "17.10.2-ee"),
    ("17.2.9-ee", "17.3.0-ee"),
    ("17.3.0-rc42", "17.3.0-ee"),
    ("17.3.0-rc2", "17.3.0-rc10"),
    ("17.11.9-ee", "18.0.0-pre"),
    ("18.0.0-pre", "18.0.0-rc1"),
    ("18.0.0-rc1", "18.0.0"),
    ("9.9.9", "10.0.0"),
    ("17.3", "17.3.1-ee"),
])
def test_ordering(older: str, newer: str) -> None:
    assert parse(older) < parse(newer)
    assert not parse(newer) < parse(older)


def test_edition_is_not_a_prerelease() -> None:
    assert parse("17.5.0-ee") == parse("17.5.0-ce") == parse("17.5.0")
    assert not parse("17.5.0-ee").prerelease
    assert parse("17.5.0-rc1").prerelease


def test_floors() -> None:
    assert at_least("17.10.2-ee", "17.3")
    assert at_least("17.3.0-ee", "17.3")
    assert not at_least("17.2.9-ee", "17.3")
    assert not at_least("17.3.0-rc42", "17.3"), "a release candidate does not meet the floor"
    assert not at_least("17.4.9-ee", "17.5")


@pytest.mark.parametrize("text", ["", "seventeen", "17", "17.x.1", "latest"])
def test_not_a_version(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)
