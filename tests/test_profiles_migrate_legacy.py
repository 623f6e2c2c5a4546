"""--step=auto finds the migrate-legacy position in the lab's states."""

from __future__ import annotations

import pytest

from labrun import failing, finding, run

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("scenario, step, verdict", [
    ("legacy-both", "import-secondary", "READY"),  # prerequisites hold: that step is complete
    ("not-read-only", "import-secondary", "NOT_READY"),
    ("secondary-imported", "import-primary", "READY"),
    # without --canary nothing proves replication end to end: judged, never COMPLETE
    ("both-imported", "verify-replication", "READY"),
])
def test_auto_position(lab, scenario, step, verdict):
    s = run(lab(scenario), step="auto")
    assert (s["step"], s["verdict"]) == (step, verdict), (s["steps"], failing(s))
    if scenario == "not-read-only":
        finding(s, "REG-010", "us-secondary")
    if scenario == "both-imported":
        assert "run with --canary" in s["stdout"]
        assert [st["status"] for st in s["steps"]] == ["complete", "complete", "complete",
                                                        "next"]


def test_narrowing_to_the_primary_keeps_the_order_across_sites(lab):
    """--site=eu-primary --step=import-primary with nothing imported: the deployment-wide
    ordering row is never dropped."""
    from standin import run_pytest

    deployment = lab("legacy-both")
    out = deployment.dir / "reports" / "site-primary"
    proc = run_pytest("--profile=migrate-legacy", f"--inventory={deployment.inventory}",
                      "--step=import-primary", "--site=eu-primary", f"--report-dir={out}",
                      env=deployment.environ())
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "IMP-004" in proc.stdout and "not imported yet: us-secondary" in proc.stdout


def test_both_imported_verifies_replication(lab):
    s = run(lab("both-imported"), step="verify-replication")
    assert s["verdict"] == "READY", [(c["id"], c["site"], c["message"]) for c in s["checks"]
                                     if c["outcome"] not in ("pass", "not-applicable")]


def test_registry_disabled_on_secondary_stops_at_prerequisites(lab):
    s = run(lab("registry-disabled-on-secondary"), step="auto")
    assert (s["step"], s["verdict"]) == ("prerequisites", "NOT_READY"), s["steps"]
    r = finding(s, "REG-003", "us-secondary")
    assert "registry['enable'] = false" in r["observed"]


def test_not_read_only_blocks_the_secondary_import(lab):
    s = run(lab("not-read-only"), step="import-secondary")
    assert s["verdict"] == "NOT_READY"
    finding(s, "REG-010", "us-secondary")
    assert ("REG-010", "us-secondary", "fail") in failing(s)


def test_failing_replication_before_the_imports_is_not_ready(lab):
    """replication-failing is legacy-both: verify-replication is not ready (the sites are not
    imported, and the replication itself fails)."""
    s = run(lab("replication-failing"), step="verify-replication")
    assert s["verdict"] == "NOT_READY"
    assert finding(s, "REP-002", "us-secondary", "fail")["observed"].startswith("failed 1")
    assert ("REG-006", "us-secondary", "fail") in failing(s)


def test_failing_replication_after_the_imports(lab):
    """After both imports only REP-002 finds the failure: the position is verify-replication
    (not complete) and the replication failure blocks it, on the secondary."""
    s = run(lab("replication-failing-imported"), step="auto")
    assert s["step"] == "verify-replication", s["steps"]
    assert s["verdict"] == "NOT_READY"
    r = finding(s, "REP-002", "us-secondary", "fail")
    assert "failed 1" in r["message"]
    assert failing(s) == [("REP-002", "us-secondary", "fail")]


@pytest.mark.parametrize("scenario, check, site", [
    ("replication-misconfigured", "HOST-004", "eu-primary"),
    ("replication-misconfigured", "REG-012", "us-secondary"),
    ("primary-api-url-unset", "HOST-005", "us-secondary"),
])
def test_broken_replication_config_blocks_verify_replication(lab, scenario, check, site):
    s = run(lab(scenario), step="verify-replication")
    assert s["verdict"] == "NOT_READY"
    finding(s, check, site)
