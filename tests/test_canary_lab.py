"""--canary, the one write: a tiny image pushed to the primary must reach every secondary with
the same digest. Without --canary nothing is ever written to the deployment."""

from __future__ import annotations

import json
import socket
from hashlib import sha256
from pathlib import Path

import pytest
import yaml

from geopreflight.probes import canary
from standin import run_pytest

pytestmark = pytest.mark.lab

WRITES = ("POST", "PUT", "PATCH", "DELETE")
NOTIFICATIONS = "/api/v4/container_registry_event/events"


def judge(lab_, tmp_path: Path, *args: str, inventory: Path | None = None
          ) -> tuple[dict, dict, str]:
    reports = tmp_path / "reports"
    r = run_pytest("--profile=migrate-legacy", "--step=verify-replication",
                   f"--inventory={inventory or lab_.inventory}", f"--report-dir={reports}",
                   *args, env=lab_.environ())
    summary = json.loads((reports / "latest" / "summary.json").read_text())
    facts = json.loads((reports / "latest" / "facts.json").read_text())["facts"]
    rep = next(c for c in summary["checks"] if c["id"] == "REP-003")
    return rep, {f["key"] + "@" + str(f["site"]): f for f in facts}, r.stdout


def writes(lab_) -> list[dict]:
    """Writes to the registries and the GitLab API; the registry's own notifications to
    GitLab (pull events, sent when anyone reads a manifest) are the deployment's traffic."""
    return [e for s in lab_.sites for kind in ("api", "registry")
            for e in lab_.requests_log(s.name, kind) if e["method"] in WRITES
            and not e["path"].startswith(NOTIFICATIONS)]


def test_without_canary_nothing_is_written(lab, tmp_path: Path) -> None:
    lab_ = lab("both-imported", fresh=True)
    before = len(writes(lab_))
    rep, facts, _ = judge(lab_, tmp_path)
    assert rep["outcome"] == "not-applicable" and "--canary" in rep["message"]
    assert not any(k.startswith("canary.") for k in facts)
    assert len(writes(lab_)) == before, "a run without --canary wrote to the deployment"


def test_canary_reaches_the_secondary(lab, tmp_path: Path) -> None:
    lab_ = lab("both-imported", fresh=True)
    rep, facts, out = judge(lab_, tmp_path, "--canary", "--wait=20")
    assert rep["outcome"] == "pass" and rep["site"] == "us-secondary", rep
    pushed = facts["canary.pushed@None"]["value"]
    # the write announces itself before it happens and names the tag it left behind
    said = [x for x in out.splitlines() if x.startswith("--canary: ")]
    assert said[0].startswith("--canary: pushing one tiny image to eu-primary's registry")
    assert f"/{pushed['repository']}:{pushed['tag']} ({pushed['digest']})" in said[1], said
    summary = json.loads((tmp_path / "reports" / "latest" / "summary.json").read_text())
    assert any(pushed["tag"] in n and "delete" in n for n in summary["notes"])
    seen = facts["canary.seen@us-secondary"]["value"]
    assert pushed["repository"].endswith("/geopreflight-canary")
    assert seen["digest"] == pushed["digest"]
    puts = [e for e in lab_.requests_log("eu-primary", "registry") if e["method"] == "PUT"]
    assert any(pushed["tag"] in e["path"] for e in puts), "the canary went to the primary"


def test_canary_not_replicated_fails_on_the_secondary(lab, tmp_path: Path) -> None:
    scenario = tmp_path / "canary-no-replication.yml"
    scenario.write_text("description: both imported, replication disabled on the secondary\n"
                        "extends: both-imported\nsites:\n  us-secondary:\n"
                        "    replication: {enabled: false}\n")
    lab_ = lab(str(scenario), fresh=True)
    rep, facts, out = judge(lab_, tmp_path, "--canary", "--wait=3")
    assert "NOT READY" in out.strip().splitlines()[-1]
    assert rep["outcome"] == "fail" and rep["site"] == "us-secondary", rep
    assert "not on us-secondary's registry after" in rep["message"]
    assert rep["expected"].startswith(facts["canary.pushed@None"]["value"]["repository"])


def test_canary_on_a_read_only_primary_is_an_error(lab, tmp_path: Path) -> None:
    rep, _, _ = judge(lab("legacy-both"), tmp_path, "--canary", "--wait=3")
    assert rep["outcome"] == "error" and "read-only" in rep["message"], rep


def test_canary_with_the_primary_registry_unreachable_is_an_error_row(lab, tmp_path: Path) -> None:
    """An unreachable primary registry under --canary is an error fact, not a crash: REP-003
    is an error on the secondary, naming the primary, the verdict is not READY, and the
    reports are written."""
    lab_ = lab("both-imported")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    inv = yaml.safe_load(lab_.inventory.read_text())
    primary = next(s for s in inv["sites"] if s["role"] == "primary")
    primary["registry"]["url"] = f"http://127.0.0.1:{closed}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
    reports = tmp_path / "reports"
    r = run_pytest("--profile=migrate-legacy", "--step=verify-replication",
                   f"--inventory={inventory}", f"--report-dir={reports}", "--canary", "--wait=3",
                   env=lab_.environ())
    assert r.returncode in (1, 6), r.stdout + r.stderr
    assert "INTERNALERROR" not in r.stdout + r.stderr and "Traceback" not in r.stderr
    summary = json.loads((reports / "latest" / "summary.json").read_text())
    rep = next(c for c in summary["checks"] if c["id"] == "REP-003")
    assert rep["outcome"] == "error" and rep["site"] == "us-secondary", rep
    assert primary["name"] in rep["message"] and str(closed) in rep["message"], rep["message"]
    assert summary["verdict"] != "READY"
    facts = json.loads((reports / "latest" / "facts.json").read_text())["facts"]
    pushed = next(f for f in facts if f["key"] == "canary.pushed")
    assert pushed["error"] and pushed["value"] is None


def location_aware(lab_, tmp_path: Path) -> Path:
    """The lab's inventory as location-aware DNS looks from where the checker runs: the
    secondary's registry URL is the primary's (it would answer for both), marked
    location_aware on both sites, and the secondary's own registry given as its
    registry.internal_url."""
    inv = yaml.safe_load(lab_.inventory.read_text())
    primary = next(s for s in inv["sites"] if s["role"] == "primary")
    secondary = next(s for s in inv["sites"] if s["role"] == "secondary")
    secondary["registry"]["internal_url"] = secondary["registry"]["url"]
    secondary["registry"]["url"] = primary["registry"]["url"]
    for site in (primary, secondary):
        site["registry"]["location_aware"] = True
    path = tmp_path / "location-aware.yml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def test_a_location_aware_secondary_is_read_through_its_internal_url(lab, tmp_path: Path
                                                                     ) -> None:
    """Two sites at one registry URL: the canary reads the secondary through its
    registry.internal_url (its own registry's log has the blob GET), so REP-003 judges the
    secondary, not the primary read back."""
    lab_ = lab("both-imported", fresh=True)
    rep, facts, _ = judge(lab_, tmp_path, "--canary", "--wait=20",
                          inventory=location_aware(lab_, tmp_path))
    assert rep["outcome"] == "pass" and rep["site"] == "us-secondary", rep
    pushed = facts["canary.pushed@None"]["value"]
    gets = [e["path"] for e in lab_.requests_log("us-secondary", "registry")
            if e["method"] == "GET" and pushed["repository"] in e["path"]]
    assert any("/blobs/sha256:" in g for g in gets), gets


def test_a_location_aware_secondary_whose_blob_never_arrives_fails(lab, tmp_path: Path
                                                                  ) -> None:
    """The same, with the canary's blob lost on the secondary: read through the shared URL
    the primary would answer (a false pass); through internal_url, REP-003 fails."""
    lab_ = lab("canary-blob-lost", fresh=True)
    rep, _, _ = judge(lab_, tmp_path, "--canary", "--wait=3",
                      inventory=location_aware(lab_, tmp_path))
    assert rep["outcome"] == "fail" and rep["site"] == "us-secondary", rep
    assert "layer blob sha256:" in rep["message"], rep["message"]


def redirected(lab_) -> tuple[str, list[dict]]:
    """The secondary's object storage origin (the lab's recording proxy, what its registry's
    307 names) and every request it saw."""
    s3 = next(s["s3"] for s in lab_.model["sites"] if s["name"] == "us-secondary")
    assert s3["redirect"] and s3["endpoint"] == f"http://127.0.0.1:{s3['proxy_port']}"
    return s3["endpoint"], lab_.s3_requests()


def test_canary_follows_the_redirect_to_object_storage_without_the_token(lab, tmp_path: Path
                                                                         ) -> None:
    """The registry on S3 with redirects on answers the blob GET with a 307 to a pre-signed
    URL: the canary reads the layer from there, and asks it without an Authorization header
    (the pre-signed query is the whole credential)."""
    lab_ = lab("object-storage-redirect")
    rep, facts, _ = judge(lab_, tmp_path, "--canary", "--wait=20")
    origin, seen = redirected(lab_)
    assert rep["outcome"] == "pass" and rep["site"] == "us-secondary", rep
    assert f"its layer blob (from a redirect to {origin}) match" in rep["message"], rep
    layer = canary.image(facts["canary.pushed@None"]["value"]["tag"])[0][1]
    hexdigest = sha256(layer).hexdigest()
    data = f"/registry-us-secondary/docker/registry/v2/blobs/sha256/{hexdigest[:2]}/" \
           f"{hexdigest}/data"
    gets = [e for e in seen if e["path"] == data and e["method"] == "GET" and e["presigned"]]
    assert gets and all(e["auth_scheme"] is None and e["status"] == 200 for e in gets), gets


def test_no_registry_token_reaches_object_storage(lab, tmp_path: Path) -> None:
    """Object storage sees the registries' own SigV4-signed calls and pre-signed GETs, never
    a Bearer: not one of the tokens the canary sent the secondary's registry (their
    fingerprints in its front's log) is among the Authorization headers object storage saw."""
    lab_ = lab("object-storage-redirect")
    rep, facts, _ = judge(lab_, tmp_path, "--canary", "--wait=20")
    assert rep["outcome"] == "pass", rep
    repo = facts["canary.pushed@None"]["value"]["repository"]
    tokens = {e["auth_sha256"] for e in lab_.requests_log("us-secondary", "registry")
              if e["method"] == "GET" and f"/v2/{repo}/blobs/" in e["path"]
              and e["auth_sha256"]}
    _, seen = redirected(lab_)
    assert tokens and any(e["presigned"] for e in seen)
    assert {e["auth_scheme"] for e in seen} <= {"AWS4-HMAC-SHA256", None}, \
        {e["auth_scheme"] for e in seen}
    assert not tokens & {e["auth_sha256"] for e in seen}


def test_a_redirect_to_the_wrong_content_fails_naming_its_origin(lab, tmp_path: Path) -> None:
    """The secondary's object storage answers the pre-signed GET with other bytes (a CDN or
    bucket serving the wrong content): the manifest is there, the blob is not what it says,
    and REP-003 fails naming where the blob came from."""
    lab_ = lab("object-storage-redirect-tampered")
    rep, _, _ = judge(lab_, tmp_path, "--canary", "--wait=3")
    origin, seen = redirected(lab_)
    assert rep["outcome"] == "fail" and rep["site"] == "us-secondary", rep
    assert f"content from a redirect to {origin} does not match its digest" in rep["message"]
    assert any(e["tampered"] for e in seen)
