"""Runs that probe nothing need no secret (issue 22): `--collect-only` and `--list-steps`
work with an inventory whose token and DSN variables are not set (a CI job listing what a
step gates, a newcomer before the secrets are handed out)."""

from __future__ import annotations

import os

import pytest

from standin import ROOT, run_pytest

INVENTORY = ROOT / "geopreflight" / "checks" / "recorded" / "legacy-both.inventory.yml"


@pytest.mark.parametrize("option, shows", [
    ("--collect-only", "VER-001@us-secondary"),
    ("--list-steps", "import-secondary"),
])
def test_listing_needs_no_secret(tmp_path, option, shows):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_DSN"))}
    proc = run_pytest("--profile=migrate-legacy", f"--inventory={INVENTORY}", option,
                      f"--report-dir={tmp_path}", env=env)
    assert proc.returncode == 0, proc.stdout[-600:] + proc.stderr[-600:]
    assert shows in proc.stdout and "is not set" not in proc.stderr
