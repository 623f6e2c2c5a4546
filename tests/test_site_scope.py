"""`--site` names a site the judged step acts on, or the run is a usage error (issue 22): a
narrowed run must never pass on the baseline rows alone, as `--step=import-secondary
--site=<primary>` did (READY, exit 0, no secondary judged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from standin import ROOT, run_pytest

INVENTORY = ROOT / "geopreflight" / "checks" / "recorded" / "legacy-both.inventory.yml"
ENV = {"GITLAB_EU_PRIMARY_TOKEN": "t", "GITLAB_US_SECONDARY_TOKEN": "t",
       "EU_PRIMARY_REGISTRY_DB_DSN": "postgresql://r@127.0.0.1:1/registry",
       "US_SECONDARY_REGISTRY_DB_DSN": "postgresql://r@127.0.0.1:1/registry"}


def checker(tmp_path: Path, *args: str):
    import os

    env = {**os.environ, **ENV}
    return run_pytest("--profile=migrate-legacy", f"--inventory={INVENTORY}",
                      f"--report-dir={tmp_path / 'reports'}", *args, env=env)


@pytest.mark.parametrize("step, site, acts_on", [
    ("import-secondary", "eu-primary", "us-secondary"),
    ("import-primary", "us-secondary", "eu-primary"),
])
def test_a_site_the_step_does_not_act_on_is_a_usage_error(tmp_path, step, site, acts_on):
    proc = checker(tmp_path, f"--step={step}", f"--site={site}")
    assert proc.returncode == 4, proc.stdout[-800:] + proc.stderr[-800:]
    assert f"--site={site}" in proc.stderr and f"acts on {acts_on})" in proc.stderr, proc.stderr
    assert not (tmp_path / "reports").exists()  # a usage error writes no report folder
