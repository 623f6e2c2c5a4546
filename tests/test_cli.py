"""The checker driven as an operator drives it (`pytest --profile=...`), against stand-ins of
the GitLab API: verdicts, exit codes, terminal, JUnit, summary.json, and no leaked token."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from projectfixtures import SCHEMAS, SUMMARY_SCHEMA
from standin import ROOT, SiteSpec, run_pytest

PROFILE = ["--profile=migrate-legacy", "--step=prerequisites"]


def checker(d, *args: str):
    inv = d.inventory()
    return run_pytest(*PROFILE, f"--inventory={inv}", f"--report-dir={d.tmp / 'reports'}",
                      *args, env=d.env())


def latest(d) -> Path:
    return (d.tmp / "reports" / "latest").resolve()


def summary(d) -> dict:
    data = json.loads((latest(d) / "summary.json").read_text())
    jsonschema.validate(data, json.loads(SUMMARY_SCHEMA.read_text()))
    return data


def junit(d) -> ET.Element:
    """The JUnit report, validated against the XSD after forgiving junit-xml's two quirks."""
    tree = ET.parse(latest(d) / "junit.xml")
    for el in tree.iter():
        el.attrib.pop("disabled", None)
        if "time" in el.attrib:
            el.attrib["time"] = f"{float(el.attrib['time']):.3f}"
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(tree)
    return tree.getroot()


# VER-005 reads each node's version file: like the HOST rows it needs a host
HOST_READ = {"VER-005"}


def _api_read(check_id: str) -> bool:
    """A version or Geo check judged on the GitLab API alone."""
    return check_id[:3] in ("VER", "GEO") and check_id not in HOST_READ


def rows(data: dict, outcome: str) -> set[tuple[str, str | None]]:
    """The version and Geo rows with this outcome (the stand-in has no registry or DB)."""
    return {(c["id"], c["site"]) for c in data["checks"]
            if c["outcome"] == outcome and _api_read(c["id"])}


def others_only_lack_data(data: dict) -> None:
    """Rows beyond version and Geo can only error here: the inventory has no DB or host."""
    for c in data["checks"]:
        if not _api_read(c["id"]):
            assert c["outcome"] in ("error", "not-applicable"), c


def test_healthy_two_sites_pass_every_version_and_geo_check(deployment) -> None:
    d = deployment()
    r = checker(d)
    data = summary(d)
    assert data["step"] == "prerequisites" and data["requested_step"] == "prerequisites"
    assert not rows(data, "fail") and not rows(data, "error") and not rows(data, "warn")
    assert ("VER-001", "us-secondary") in rows(data, "pass")
    others_only_lack_data(data)
    # fail closed: what the inventory does not say (no metadata_db, no host) cannot pass
    if any(not _api_read(c["id"]) and c["blocking"] for c in data["checks"]):
        assert r.returncode == 6 and data["verdict"] == "CANNOT_DETERMINE"
    else:
        assert r.returncode == 0 and data["verdict"] == "READY"
    assert r.stdout.strip().splitlines()[-1].startswith(
        "geopreflight: migrate-legacy step prerequisites (1/4): ")
    deployment_wide = [c for c in data["checks"] if c["site"] is None]
    assert {"VER-003", "GEO-001", "GEO-005"} <= {c["id"] for c in deployment_wide}
    assert [s["status"] for s in data["steps"]] == ["next", "pending", "pending", "pending"]


def test_below_17_5_with_an_unknown_install_type_warns(deployment) -> None:
    d = deployment(SiteSpec("eu-primary", "primary", version="17.4.1-ee"),
                   SiteSpec("us-secondary", version="17.4.1-ee"))
    checker(d)
    data = summary(d)
    # without a host, the install type is unknown: VER-002 warns, it does not block
    assert rows(data, "warn") == {("VER-002", "eu-primary"), ("VER-002", "us-secondary")}
    assert "Linux package installs need 17.5" in data["checks"][2]["message"] or any(
        "Linux package installs need 17.5" in c["message"] for c in data["checks"])


def test_a_secondary_below_17_3_is_not_ready(deployment) -> None:
    d = deployment(version="17.2.9-ee")
    r = checker(d)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "VER-001 [us-secondary] GitLab 17.3 or later on every site: FAIL" in r.stdout
    assert "observed: 17.2.9-ee" in r.stdout and "expected: >= 17.3" in r.stdout
    assert r.stdout.strip().splitlines()[-1].startswith(
        "geopreflight: migrate-legacy step prerequisites (1/4): NOT READY, 2 blocking checks "
        "failed")
    data = summary(d)
    assert data["verdict"] == "NOT_READY" and data["exit_code"] == 1
    assert ("VER-001", "us-secondary") in rows(data, "fail")
    assert ("VER-001", "eu-primary") in rows(data, "pass")
    assert ("VER-003", None) in rows(data, "fail")
    root = junit(d)
    failures = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    names = [tc.get("name") for tc in failures]
    assert any(n.startswith("VER-001 [us-secondary]") and "severity: critical" in n
               for n in names), names
    suite = next(s for s in root.iter("testsuite")
                 if s.get("name").startswith("migrate-legacy us-secondary"))
    ver = next(tc for tc in suite.iter("testcase") if tc.get("name").startswith("VER-001"))
    detail = ver.find("failure").text
    assert "observed: 17.2.9-ee" in detail and "fix: Upgrade" in detail


def test_a_site_that_never_answers_cannot_be_determined(deployment) -> None:
    d = deployment(hang=True)
    t0 = time.monotonic()
    r = checker(d)
    elapsed = time.monotonic() - t0
    assert r.returncode == 6, r.stdout + r.stderr
    assert elapsed < 20, "the read timeout (1.5 s in this inventory) bounds the run"
    assert "Traceback" not in r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if "does not answer at its own URL" in x)
    assert "us-secondary" in line and "no answer within 1.5 s" in line
    assert " CANNOT DETERMINE, " in r.stdout.strip().splitlines()[-1]
    data = summary(d)
    assert rows(data, "error") == {("GEO-006", "us-secondary")}
    others_only_lack_data(data)
    # the secondary's version still comes from its Geo status, asked of the primary
    assert ("VER-001", "us-secondary") in rows(data, "pass")


def test_unhealthy_secondary_carries_gitlabs_health_text(deployment) -> None:
    d = deployment(healthy=False, health="Geo node does not appear to be replicating the "
                                         "database from the primary node.")
    r = checker(d)
    assert r.returncode == 1
    assert "does not appear to be replicating the database" in r.stdout
    assert ("GEO-003", "us-secondary") in rows(summary(d), "fail")


def test_stale_status_is_unhealthy(deployment) -> None:
    d = deployment(status_age_s=2 * 3600)
    r = checker(d)
    assert r.returncode == 1 and "minutes old" in r.stdout


def test_a_site_that_is_not_a_geo_site_fails_geo_002(deployment) -> None:
    d = deployment(geo=False)
    r = checker(d)
    assert r.returncode == 1
    data = summary(d)
    assert ("GEO-002", "us-secondary") in rows(data, "fail")
    assert ("GEO-002", "eu-primary") in rows(data, "pass")


def test_a_geo_site_missing_from_the_inventory_only_warns(deployment) -> None:
    d = deployment(SiteSpec("eu-primary", "primary"), SiteSpec("us-secondary"),
                   SiteSpec("ap-secondary"))
    inv = d.inventory()
    doc = inv.read_text().split("- name: ap-secondary")[0]
    inv.write_text(doc.rstrip() + "\ntimeouts: {connect_s: 1, read_s: 1.5}\n")
    run_pytest(*PROFILE, f"--inventory={inv}", f"--report-dir={d.tmp / 'reports'}", env=d.env())
    data = summary(d)
    geo005 = next(c for c in data["checks"] if c["id"] == "GEO-005")
    assert geo005["outcome"] == "warn" and not geo005["blocking"]
    assert "ap-secondary" in geo005["message"]


def test_a_rejected_token_says_which_token(deployment) -> None:
    d = deployment()
    env = {**d.env(), "GP_TEST_TOKEN": "glpat-wrong-token-value"}
    r = run_pytest(*PROFILE, f"--inventory={d.inventory()}",
                   f"--report-dir={d.tmp / 'reports'}", env=env)
    assert r.returncode == 6, r.stdout
    assert "401, GitLab rejected the token from $GP_TEST_TOKEN" in r.stdout
    assert "glpat-wrong-token-value" not in r.stdout + r.stderr


def test_geo_sites_are_followed_across_pages(deployment) -> None:
    specs = [SiteSpec("eu-primary", "primary")] + [SiteSpec(f"s{i:02d}") for i in range(120)]
    d = deployment(*specs)
    checker(d)
    assert not rows(summary(d), "fail")
    geo005 = next(c for c in summary(d)["checks"] if c["id"] == "GEO-005")
    assert "all 121 Geo site(s)" in geo005["message"]
    primary = d.servers["eu-primary"]
    assert primary.count("/api/v4/geo_sites/status") == 2  # 121 statuses, 100 per page
    assert primary.count("/api/v4/geo_sites") - primary.count("/api/v4/geo_sites/status") == 2


def test_each_request_is_sent_once(deployment) -> None:
    d = deployment()
    checker(d)
    primary, secondary = d.servers["eu-primary"], d.servers["us-secondary"]
    assert primary.count("/api/v4/geo_sites") - primary.count("/api/v4/geo_sites/status") == 1
    assert primary.count("/api/v4/geo_sites/status") == 1
    assert secondary.count("/api/v4/metadata") == 1
    # the primary's own metadata request, and the secondary's proxied to it
    assert primary.count("/api/v4/metadata") == 2


def test_the_token_never_leaks(deployment) -> None:
    d = deployment(version="17.2.9-ee")
    r = checker(d, "-v", "-rA")
    assert d.token not in r.stdout + r.stderr
    for path in (d.tmp / "reports").rglob("*"):
        if path.is_file():
            assert d.token not in path.read_text(errors="replace"), path
    ids = run_pytest(*PROFILE, f"--inventory={d.inventory()}", "--collect-only", "-q",
                     env=d.env())
    assert ids.returncode == 0 and "VER-001@us-secondary" in ids.stdout
    assert d.token not in ids.stdout + ids.stderr


def test_list_steps_and_collect_only_probe_nothing(deployment) -> None:
    d = deployment()
    r = checker(d, "--list-steps")
    assert r.returncode == 0 and "1. prerequisites" in r.stdout
    assert "requires  group import-baseline" in r.stdout and "     VER-001 GitLab 17.3" in r.stdout
    r = run_pytest("--profile=migrate-legacy", f"--inventory={d.inventory()}", "--collect-only",
                   "-q", env=d.env())
    assert r.returncode == 0
    assert "test_geo_006_gitlab_answers_at_own_url[GEO-006@us-secondary]" in r.stdout
    assert all(not s.requests for s in d.servers.values())
    assert not (d.tmp / "reports").exists()


def test_site_narrows_the_per_site_rows(deployment) -> None:
    d = deployment()
    checker(d, "--site=us-secondary")
    data = summary(d)
    assert {c["site"] for c in data["checks"]} == {"us-secondary", None}


def test_deselecting_a_blocking_check_caps_the_verdict(deployment) -> None:
    d = deployment()
    r = checker(d, "-k", "not VER-001")
    assert r.returncode == 6, r.stdout
    data = summary(d)
    assert data["verdict"] == "CANNOT_DETERMINE"
    assert any(c["id"] == "VER-001" and "deselected" in c["message"] for c in data["checks"])
    r = checker(d, "-k", "no-such-check")
    assert r.returncode == 5, "nothing selected keeps pytest's own code"


def test_report_folders_and_latest(deployment) -> None:
    d = deployment()
    checker(d)
    checker(d)
    folders = sorted(p.name for p in (d.tmp / "reports").iterdir() if p.name != "latest")
    assert len(folders) == 2 and all("-migrate-legacy-prerequisites" in f for f in folders)
    link = d.tmp / "reports" / "latest"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert {p.name for p in latest(d).iterdir()} >= {"junit.xml", "summary.json", "facts.json",
                                                      "report.html"}
    facts = json.loads((latest(d) / "facts.json").read_text())["facts"]
    geo_sites = next(f for f in facts if f["key"] == "geo.sites")
    assert geo_sites["source"].endswith("/api/v4/geo_sites") and geo_sites["duration_s"] >= 0


def test_auto_without_the_facts_to_place_the_deployment_cannot_determine(deployment) -> None:
    d = deployment()  # Geo is healthy, but the inventory gives no host, registry or DB
    r = run_pytest("--profile=new-instance", f"--inventory={d.inventory()}",
                   f"--report-dir={d.tmp / 'reports'}", env=d.env())
    assert r.returncode == 6, r.stdout
    data = summary(d)
    assert data["requested_step"] == "auto" and data["step"] is None
    assert data["verdict"] == "CANNOT_DETERMINE"
    # the rows of the step that could not be told, so the reports say why
    assert any(c["outcome"] == "error" and "no host for" in c["message"] for c in data["checks"])
    assert "unknown" in {s["status"] for s in data["steps"]}
    assert "position unknown: " in r.stdout and "no host for" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == ("geopreflight: new-instance step (position "
                                                 "unknown): CANNOT DETERMINE, the step's "
                                                 "position could not be determined")


def test_before_geo_setup_geo_is_judged(deployment) -> None:
    d = deployment(SiteSpec("eu-primary", "primary", geo=False),
                   SiteSpec("us-secondary", geo=False))
    r = run_pytest("--profile=add-geo-external-db", "--step=setup-geo",
                   f"--inventory={d.inventory()}", f"--report-dir={d.tmp / 'reports'}",
                   env=d.env())
    data = summary(d)
    assert data["step"] == "setup-geo", r.stdout
    assert ("GEO-004", None) in rows(data, "pass")
    assert ("VER-001", "us-secondary") in rows(data, "pass"), "its own /api/v4/metadata"
    assert not rows(data, "fail")


@pytest.mark.parametrize("args,code,text", [
    (["--profile=help"], 0, "migrate-legacy"),
    (["--profile=nope"], 4, "unknown profile 'nope'"),
    (["--profile=migrate-legacy", "--step=nope"], 4, "--step=nope: not a step"),
    (["--profile=migrate-legacy", "--inventory=/nonexistent.yml"], 4, "/nonexistent.yml"),
    (["geopreflight/checks/"], 4, "run them with a profile"),
])
def test_usage(args: list[str], code: int, text: str) -> None:
    r = run_pytest(*args, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == code, r.stdout + r.stderr
    assert text in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_bad_inventory_is_a_usage_error_naming_the_line(deployment, tmp_path: Path) -> None:
    d = deployment()
    inv = d.inventory()
    inv.write_text(inv.read_text().replace("role: secondary", "role: tertiary"))
    r = run_pytest(*PROFILE, f"--inventory={inv}", f"--report-dir={d.tmp / 'reports'}",
                   env=d.env())
    assert r.returncode == 4 and "Traceback" not in r.stderr
    assert f"{inv}:" in r.stderr and "expected one of primary, secondary" in r.stderr
    assert not (d.tmp / "reports").exists(), "a usage error writes no report folder"


def test_unset_token_variable_is_named(deployment) -> None:
    d = deployment()
    env = {k: v for k, v in d.env().items() if k != "GP_TEST_TOKEN"}
    r = run_pytest(*PROFILE, f"--inventory={d.inventory()}", env=env)
    assert r.returncode == 4 and "GP_TEST_TOKEN is not set" in r.stderr


def test_own_tests_run_without_a_profile() -> None:
    assert (ROOT / "conftest.py").read_text().count("geopreflight.plugin") == 1


@pytest.mark.lab
def test_textbook_lab_deployment_is_ready_for_the_prerequisites(lab, tmp_path: Path) -> None:
    """The same run against real parts: two healthy 17.10.2-ee sites, every check evaluable."""
    lab_ = lab("legacy-both")
    r = run_pytest(*PROFILE, f"--inventory={lab_.inventory}", f"--report-dir={tmp_path}",
                   env=lab_.environ())
    assert r.returncode == 0, r.stdout[-3000:]
    assert r.stdout.strip().splitlines()[-1] == \
        "geopreflight: migrate-legacy step prerequisites (1/4): READY"
    data = json.loads((tmp_path / "latest" / "summary.json").read_text())
    ver = [c for c in data["checks"] if c["id"] == "VER-001"]
    assert {c["site"] for c in ver} == {"eu-primary", "us-secondary"}
    assert all(c["outcome"] == "pass" and "17.10.2-ee" in c["message"] for c in ver)
