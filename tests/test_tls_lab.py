"""TLS with an internal CA: the lab serves every GitLab stand-in and registry front over
HTTPS with its own CA. With `gitlab.ca_bundle` the step is READY; without it the run cannot
determine the step, and its rows name TLS and the fix, never pass."""

from __future__ import annotations

import pytest
import requests

from labrun import failing, row, run

pytestmark = pytest.mark.lab


def test_https_with_ca_bundle_is_ready(lab):
    tls = lab("tls")
    site = tls.site("us-secondary")
    assert site.gitlab_url.startswith("https://") and site.registry_url.startswith("https://")
    with pytest.raises(requests.exceptions.SSLError):  # a certificate no public CA signed
        requests.get(site.gitlab_url + "/api/v4/metadata", timeout=5, verify=True)
    s = run(tls)
    assert s["verdict"] == "READY", failing(s)
    assert row(s, "REG-001", "us-secondary")["outcome"] == "pass"  # the registry over HTTPS
    reg = row(run(tls, step="verify-replication"), "REG-012", "us-secondary")
    # verified with what the secondary trusts: its trusted-certs hold the lab's CA
    assert reg["outcome"] == "pass" and "1 certificate(s) in /etc/gitlab/trusted-certs" in (
        reg["message"]), reg["message"]


def test_a_secondary_that_does_not_trust_the_primary_registry_is_not_ready(lab):
    """The checker trusts the lab's CA (gitlab.ca_bundle), so every other HTTPS read works;
    the secondary's /etc/gitlab/trusted-certs lacks it, and Geo's registry sync would fail
    the handshake: REG-012 fails naming the trust, whatever the checker itself trusts."""
    s = run(lab("tls-untrusted"), step="verify-replication")
    reg = row(s, "REG-012", "us-secondary")
    assert reg["outcome"] == "fail" and reg["blocking"], reg
    assert "does not trust the primary registry" in reg["message"]
    assert "0 certificate(s) in /etc/gitlab/trusted-certs" in reg["message"]
    assert "certificate verify failed" in reg["message"]
    assert row(s, "REG-001", "us-secondary")["outcome"] == "pass"
    assert s["verdict"] == "NOT_READY"


def test_https_without_ca_bundle_cannot_determine_and_names_tls(lab):
    s = run(lab("tls-no-ca"))
    assert s["verdict"] == "CANNOT_DETERMINE" and s["returncode"] == 6, s["verdict_line"]
    over_https = ("GEO-001", "GEO-002", "GEO-006", "REG-001", "REG-002", "REG-004", "REG-008")
    passed = [r["id"] for r in s["checks"] if r["outcome"] == "pass" and r["id"] in over_https]
    assert not passed  # nothing read over an unverified connection counts as a pass
    geo = row(s, "GEO-006", "us-secondary")
    assert geo["outcome"] == "error"
    assert "TLS verification failed" in geo["message"] and "ca_bundle" in geo["message"]
