"""Inventory validation: every mistake names the file, the line and what was expected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from geopreflight.errors import UsageError
from geopreflight.inventory import load_inventory

GOOD = """\
deployment: acme
sites:
  - name: eu-primary
    role: primary
    gitlab:
      url: https://gitlab.example.com
      token_env: GP_INV_TOKEN
  - name: us-secondary
    role: secondary
    gitlab:
      url: https://us.gitlab.example.com/
      token_env: GP_INV_TOKEN
      username: geopreflight
    registry:
      url: https://registry.us.example.com
    metadata_db:
      host: db.us.example.com
      port: 5432
      dbname: registry
      user: registry
      password_env: GP_INV_DBPASS
    host:
      target: local://
      root: /srv/us
timeouts: {connect_s: 2, read_s: 3}
"""


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GP_INV_TOKEN", "glpat-inventorytoken")
    monkeypatch.setenv("GP_INV_DBPASS", "db-password-123")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(UsageError) as exc:
        load_inventory(write(tmp_path, text))
    return str(exc.value)


def test_a_good_inventory_loads(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, GOOD))
    assert [s.name for s in inv.sites] == ["eu-primary", "us-secondary"]
    assert inv.primary.name == "eu-primary"
    us = inv.site("us-secondary")
    assert us.gitlab.url == "https://us.gitlab.example.com"
    assert us.metadata_db.conninfo()["password"] == "db-password-123"
    assert inv.timeouts.connect_s == 2 and inv.timeouts.read_s == 3
    assert len(inv.sha256) == 64
    assert "glpat-inventorytoken" not in repr(inv) and "db-password-123" not in repr(inv)


@pytest.mark.parametrize("old,new,line,expected", [
    ("deployment: acme\n", "deployment: [acme\n", 2, "not valid YAML"),
    ("    role: primary\n", "    role: leader\n", 4, "expected one of primary, secondary"),
    ("      url: https://gitlab.example.com\n", "      url: 42\n", 6, "expected a string"),
    ("      url: https://gitlab.example.com\n", "      url: gitlab.example.com\n", 6,
     "expected an http(s) URL"),
    ("      token_env: GP_INV_TOKEN\n  - name: us",
     "      token_env: GP_NOT_SET_ANYWHERE\n  - name: us",
     7, "the environment variable GP_NOT_SET_ANYWHERE is not set"),
    ("      url: https://gitlab.example.com\n", "      url: https://gitlab.example.com/api/v4/\n",
     6, "sites[0].gitlab.url: the URL ends in /api/v4"),
    ("      port: 5432\n", "      port: five\n", 18, "expected a whole number"),
    ("      target: local://\n", "      taget: local://\n", 23, "unknown key"),
    ("timeouts: {connect_s: 2, read_s: 3}\n", "timeouts: {connect_s: 0, read_s: 3}\n", 25,
     "expected a number above 0"),
    ("  - name: us-secondary\n    role: secondary\n", "  - name: us-secondary\n    role: primary\n",
     3, "expected exactly one site with role: primary"),
    ("  - name: us-secondary\n", "  - name: eu-primary\n", 8, "used twice"),
    ("    role: primary\n", "", 3, "role: missing"),
    ("      url: https://us.gitlab.example.com/\n", "      url: https://GITLAB.example.com/\n",
     11, "sites[1].gitlab.url: https://GITLAB.example.com is also eu-primary's gitlab URL"),
])
def test_each_mistake_names_file_line_and_expectation(tmp_path: Path, old: str, new: str,
                                                       line: int, expected: str) -> None:
    assert old in GOOD
    message = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert message.startswith(f"{tmp_path / 'inventory.yml'}:{line}: "), message
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the inventory"):
        load_inventory(tmp_path / "nope.yml")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping" in error_of(tmp_path, "- just\n- a list\n")


def test_secret_file_and_inline_secret(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("glpat-fromfile\n")
    text = GOOD.replace("      token_env: GP_INV_TOKEN\n  - name: us",
                        f"      token_file: {token_file}\n  - name: us", 1)
    text = text.replace("      password_env: GP_INV_DBPASS", "      password: inline-pass")
    inv = load_inventory(write(tmp_path, text))
    assert inv.primary.gitlab.token.reveal() == "glpat-fromfile"
    assert len(inv.warnings) == 1 and "inline secret" in inv.warnings[0]
    assert "inline-pass" not in inv.warnings[0]


def test_missing_secret_file_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("      token_env: GP_INV_TOKEN\n  - name: us",
                        "      token_file: /nonexistent/token\n  - name: us", 1)
    message = error_of(tmp_path, text)
    assert ":7: " in message and "/nonexistent/token" in message


def test_wrong_type_message_never_echoes_the_value(tmp_path: Path) -> None:
    text = GOOD.replace("      password_env: GP_INV_DBPASS", "      password: [s3cret-in-list]")
    message = error_of(tmp_path, text)
    assert "s3cret-in-list" not in message


def test_every_unset_secret_variable_is_named_in_one_message(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """One run names them all, not one per run (issue 22)."""
    monkeypatch.delenv("GP_INV_TOKEN")
    monkeypatch.delenv("GP_INV_DBPASS")
    message = error_of(tmp_path, GOOD)
    assert message == (
        f"{tmp_path / 'inventory.yml'}:7: 2 environment variables are not set: GP_INV_TOKEN "
        "(sites[0].gitlab.token_env, line 7; sites[1].gitlab.token_env, line 12), GP_INV_DBPASS "
        "(sites[1].metadata_db.password_env, line 21); set them all, then run again"), message


def test_local_nodes_with_different_roots_get_distinct_names(tmp_path: Path) -> None:
    text = GOOD.replace("    host:\n      target: local://\n      root: /srv/us\n",
                        "    hosts:\n      - {target: 'local://', root: /srv/us/rails1, "
                        "roles: [rails]}\n      - {target: 'local://', root: /srv/us/registry1, "
                        "roles: [registry]}\n")
    inv = load_inventory(write(tmp_path, text))
    assert [h.name for h in inv.site("us-secondary").hosts] == ["rails1", "registry1"]


SHARED_REGISTRY = GOOD.replace(
    "      token_env: GP_INV_TOKEN\n  - name: us",
    "      token_env: GP_INV_TOKEN\n    registry:\n      url: https://registry.us.example.com\n"
    "  - name: us", 1)


def test_two_sites_at_one_registry_url_are_refused_unless_location_aware(tmp_path: Path
                                                                         ) -> None:
    """Location-aware DNS: one URL answers for whichever site is nearest, so the checker
    (and the canary) would read one site for the other: exit 4 naming both sites."""
    message = error_of(tmp_path, SHARED_REGISTRY)
    assert "sites[1].registry.url: https://registry.us.example.com is also eu-primary's " \
           "registry URL" in message and "location_aware: true" in message
    marked = SHARED_REGISTRY.replace("      url: https://registry.us.example.com\n",
                                     "      url: https://registry.us.example.com\n"
                                     "      location_aware: true\n")
    inv = load_inventory(write(tmp_path, marked))
    assert all(s.registry.location_aware for s in inv.sites)


def test_a_location_aware_registry_takes_an_internal_url_of_its_own(tmp_path: Path) -> None:
    """registry.internal_url: the site's registry past the shared DNS (where the canary reads
    it), validated like every URL, and never another site's registry URL."""
    marked = SHARED_REGISTRY.replace("      url: https://registry.us.example.com\n",
                                     "      url: https://registry.us.example.com\n"
                                     "      location_aware: true\n")
    own = marked.replace("      location_aware: true\n    metadata_db:",
                         "      location_aware: true\n      internal_url: URL\n"
                         "    metadata_db:")
    inv = load_inventory(write(tmp_path, own.replace("URL", "https://10.1.2.3:5050/")))
    primary, secondary = inv.sites
    assert secondary.registry.own_url == "https://10.1.2.3:5050"
    assert primary.registry.own_url == primary.registry.url  # none given: the shared URL
    line = own.splitlines().index("      internal_url: URL") + 1
    for bad, words in (("https://u:p@10.1.2.3", "holds credentials"),
                       ("ftp://10.1.2.3", "expected an http(s) URL"),
                       ("https://registry.us.example.com", "is also one of eu-primary's")):
        message = error_of(tmp_path, own.replace("URL", bad))
        assert f"inventory.yml:{line}" in message and "sites[1].registry.internal_url" in \
            message and words in message, message


MOVED = GOOD.replace("      password_env: GP_INV_DBPASS\n", """\
      password_env: GP_INV_DBPASS
      moved_from:
        host: old-db.us.example.com
        port: 5433
        dbname: registry
        user: registry
        password_env: GP_INV_OLD_DBPASS
""")


def test_metadata_db_moved_from_reads_like_metadata_db(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The database the registry's data was moved from: the same keys, the same secrets (kept
    for redaction, never in a repr), and a label without the password."""
    monkeypatch.setenv("GP_INV_OLD_DBPASS", "old-db-password-456")
    inv = load_inventory(write(tmp_path, MOVED))
    old = inv.site("us-secondary").metadata_db.moved_from
    assert old.conninfo() == {"host": "old-db.us.example.com", "port": "5433",
                              "dbname": "registry", "user": "registry",
                              "password": "old-db-password-456"}
    assert old.label == "postgresql://old-db.us.example.com:5433/registry"
    assert "old-db-password-456" in [s.reveal() for s in inv.secrets]
    assert "old-db-password-456" not in repr(inv)
    assert inv.site("eu-primary").metadata_db is None


@pytest.mark.parametrize("old,new,line,expected", [
    ("        port: 5433\n", "        port: 70000\n", 24,
     "sites[1].metadata_db.moved_from.port: expected a port number from 1 to 65535"),
    ("        host: old-db.us.example.com\n", "", 23,
     "sites[1].metadata_db.moved_from: expected dsn_env (or dsn_file), or host with port"),
    ("        user: registry\n", "        user: registry\n        moved_from: {host: x}\n", 27,
     "sites[1].metadata_db.moved_from.moved_from: unknown key"),
    ("        password_env: GP_INV_OLD_DBPASS\n", "        password_env: GP_INV_UNSET_OLD\n",
     27, "sites[1].metadata_db.moved_from.password_env: the environment variable "
     "GP_INV_UNSET_OLD is not set"),
    (MOVED[MOVED.index("      moved_from:"):MOVED.index("    host:\n      target")],
     "      moved_from: old\n", 22, "sites[1].metadata_db.moved_from: expected a mapping, "
     "got a string"),
])
def test_a_bad_moved_from_names_file_line_and_expectation(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          old: str, new: str, line: int,
                                                          expected: str) -> None:
    monkeypatch.setenv("GP_INV_OLD_DBPASS", "old-db-password-456")
    assert old in MOVED
    message = error_of(tmp_path, MOVED.replace(old, new, 1))
    assert message.startswith(f"{tmp_path / 'inventory.yml'}:{line}: "), message
    assert expected in message and "old-db-password-456" not in message
