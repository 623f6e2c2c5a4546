"""The lab's registries: real token auth, the GitLab front's headers, read-only 405."""

from __future__ import annotations

import pytest
import requests

from lab import model, oci

pytestmark = pytest.mark.lab

GITLAB_HEADERS = ("Gitlab-Container-Registry-Version", "Gitlab-Container-Registry-Features",
                  "Gitlab-Container-Registry-Database-Enabled")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_unauthenticated_v2_is_a_challenge_without_gitlab_headers(lab):
    d = lab("legacy-both")
    for site in d.sites:
        r = requests.get(f"{site.registry_url}/v2/", timeout=5)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == (
            f'Bearer realm="{site.gitlab_url}/jwt/auth",service="container_registry"')
        assert not [h for h in r.headers if h.lower().startswith("gitlab-")]


def test_authorised_v2_carries_the_gitlab_headers(lab):
    d = lab("legacy-both")
    for site in d.sites:
        r = requests.get(f"{site.registry_url}/v2/", headers=bearer(d.token(site.name)), timeout=5)
        assert r.status_code == 200 and r.text == "{}"
        assert r.headers["Gitlab-Container-Registry-Version"] == "4.39.0-gitlab"
        assert r.headers["Gitlab-Container-Registry-Features"] == "tag_delete"
        assert r.headers["Gitlab-Container-Registry-Database-Enabled"] == "false"


def test_gitlab_v1_in_legacy_mode(lab):
    d = lab("legacy-both")
    site = d.primary
    r = requests.get(f"{site.registry_url}/gitlab/v1/", timeout=5)
    assert r.status_code == 401 and "Gitlab-Container-Registry-Version" not in r.headers
    r = requests.get(f"{site.registry_url}/gitlab/v1/", headers=bearer(d.token(site.name)),
                     timeout=5)
    assert r.status_code == 404 and r.content == b""
    assert [h for h in r.headers if h.lower().startswith(("gitlab-", "docker-"))] == [
        "Gitlab-Container-Registry-Version"]


def test_database_mode_headers_and_gitlab_v1(lab):
    d = lab("both-imported")
    for site in d.sites:
        tok = d.token(site.name)
        r = requests.get(f"{site.registry_url}/v2/", headers=bearer(tok), timeout=5)
        assert r.headers["Gitlab-Container-Registry-Database-Enabled"] == "true"
        r = requests.get(f"{site.registry_url}/gitlab/v1/", headers=bearer(tok), timeout=5)
        assert r.status_code == 200 and r.json() == {}


def test_write_during_read_only_gets_405_and_reads_still_work(lab):
    d = lab("legacy-both")
    site = d.secondary
    tok = d.token(site.name, "repository:group/project/app:pull,push")
    r = requests.post(f"{site.registry_url}/v2/group/project/app/blobs/uploads/",
                      headers=bearer(tok), timeout=5)
    assert r.status_code == 405
    r = requests.post(f"{site.registry_url}/v2/group/project/app/blobs/uploads/", timeout=5)
    assert r.status_code == 401, "authorisation comes first"
    with pytest.raises(model.LabError, match="read-only"):
        d.push(site.name, "group/project/app:v3")
    r = requests.get(f"{site.registry_url}/v2/group/project/app/tags/list", headers=bearer(tok),
                     timeout=5)
    assert r.status_code == 200 and r.json()["tags"] == ["v1", "v2"]


def test_seeded_images_are_on_both_sites_with_the_same_digests(lab):
    d = lab("legacy-both")
    clients = [oci.Client(s.registry_url, oci.basic_auth_tokens(s.username, s.token))
               for s in d.sites]
    p, s = clients
    assert p.catalog() == s.catalog() == ["group/project/app", "platform/base"]
    for repo, tag in (("group/project/app", "v1"), ("group/project/app", "v2"),
                      ("platform/base", "latest")):
        assert p.digest(repo, tag) == s.digest(repo, tag) is not None


def test_jwt_auth_grants_like_gitlab(lab):
    d = lab("legacy-both")
    site = d.primary
    url = f"{site.gitlab_url}/jwt/auth"
    q = {"service": "container_registry"}
    assert requests.get(url, params=q, timeout=5).status_code == 403, "anonymous, no scope"
    assert requests.get(url, params=q, auth=(site.username, "wrong"), timeout=5).status_code == 401
    cat = d.token(site.name, "registry:catalog:*")
    r = requests.get(f"{site.registry_url}/v2/_catalog", headers=bearer(cat), timeout=5)
    assert r.status_code == 200
    dropped = d.token(site.name, "registry:catalog:read")
    r = requests.get(f"{site.registry_url}/v2/_catalog", headers=bearer(dropped), timeout=5)
    assert r.status_code == 401, "a catalog scope other than * is dropped"
    # the secondary's /jwt/auth is answered by the primary, and its registry trusts that token
    sec = d.secondary
    tok = d.token(sec.name)
    r = requests.get(f"{sec.registry_url}/v2/", headers=bearer(tok), timeout=5)
    assert r.status_code == 200


def test_registry_disabled_site(lab):
    d = lab("add-geo-and-registry")
    for site in d.sites:
        r = requests.get(f"{site.gitlab_url}/jwt/auth", params={"service": "container_registry"},
                         auth=(site.username, site.token), timeout=5)
        assert r.status_code == 404
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{site.registry_url}/v2/", timeout=2)
        assert "registry['enable'] = false" in (site.root / "etc/gitlab/gitlab.rb").read_text()
        assert not (site.root / "var/opt/gitlab/registry/config.yml").exists()
