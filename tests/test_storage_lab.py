"""Object storage: the registry on its own S3 bucket per site (a real S3 API on loopback,
the registry's own s3 driver). With `registry.storage` the lockfiles are read from the
bucket; without it the checks say which other sources they decided from."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from geopreflight.errors import UsageError
from geopreflight.inventory import load_inventory
from labrun import failing, passing, row, run

INVENTORY = """\
deployment: acme
sites:
  - name: eu-primary
    role: primary
    gitlab: {url: https://gitlab.example.com, token_env: GP_S3_TOKEN}
    registry:
      url: https://registry.example.com
      storage:
        s3:
          endpoint: https://s3.eu-west-1.amazonaws.com
          bucket: acme-registry-eu
          region: eu-west-1
          access_key_env: GP_S3_KEY
          secret_key_env: GP_S3_SECRET
"""


@pytest.mark.lab
def test_object_storage_with_registry_storage_is_ready_from_the_bucket(lab):
    s = run(lab("object-storage"))
    assert s["verdict"] == "READY", failing(s)
    assert passing(s, "IMP-001", "us-secondary")["message"] == "filesystem-in-use only"
    mode = passing(s, "REG-004", "us-secondary")["message"]
    assert "storage lockfiles: legacy" in mode


@pytest.mark.lab
def test_the_bucket_secret_reaches_no_report(lab):
    """The S3 secret key signs the HEADs and goes nowhere else: not the terminal, not one
    file of the run's report folder."""
    d = lab("object-storage")
    s = run(d)
    secrets = [v for k, v in d.environ().items() if k.endswith("_S3_SECRET")]
    assert secrets and all(len(v) >= 8 for v in secrets)
    files = [p for p in (Path(d.dir) / "reports").rglob("*") if p.is_file()]
    assert files
    for text in [s["stdout"]] + [p.read_text(errors="replace") for p in files]:
        assert not any(v in text for v in secrets)


@pytest.mark.lab
def test_object_storage_without_registry_storage_says_which_sources_it_used(lab):
    s = run(lab("object-storage-no-access"))
    assert s["verdict"] == "READY", failing(s)
    r = passing(s, "IMP-001", "us-secondary")
    assert "decided from: header Gitlab-Container-Registry-Database-Enabled: legacy" in \
        r["message"]
    assert "lockfile source absent" in r["message"] and "registry.storage" in r["message"]
    assert "storage lockfiles" not in row(s, "REG-004", "us-secondary")["message"]


@pytest.mark.lab
def test_the_lockfile_in_the_bucket_is_what_the_check_reads(fresh_lab):
    """Put database-in-use beside filesystem-in-use in the secondary's bucket: the registry
    would refuse to start, and IMP-001 reads exactly that from the bucket."""
    from lab import s3

    lab = fresh_lab("object-storage")
    bucket = lab.site("us-secondary")
    model = next(x for x in lab.model["sites"] if x["name"] == bucket.name)
    s3.client(model["s3"]).put_object(Bucket=model["s3"]["bucket"],
                                      Key=f"{s3.LOCKFILES}/database-in-use", Body=b"")
    s = run(lab)
    r = row(s, "IMP-001", "us-secondary")
    assert r["outcome"] == "fail" and "database-in-use and filesystem-in-use" in r["message"]


def test_registry_storage_loads_with_secrets_kept_out_of_the_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("GP_S3_TOKEN", "glpat-" + "a" * 20)
    monkeypatch.setenv("GP_S3_KEY", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("GP_S3_SECRET", "s3cr3t-value")
    f = tmp_path / "inventory.yml"
    f.write_text(INVENTORY)
    st = load_inventory(str(f)).sites[0].registry.storage
    assert (st.bucket, st.region, st.root_directory) == ("acme-registry-eu", "eu-west-1", "/")
    assert st.secret_key.reveal() == "s3cr3t-value" and "s3cr3t" not in repr(st)


@pytest.mark.parametrize("change, words", [
    (("bucket: acme-registry-eu", "bucket: Acme_Registry"), "expected an S3 bucket name"),
    (("          region: eu-west-1\n", ""), "region"),
    (("secret_key_env: GP_S3_SECRET", "secret_key_env: GP_S3_UNSET"),
     "the environment variable GP_S3_UNSET is not set"),
    (("endpoint: https://s3.eu-west-1.amazonaws.com", "endpoint: s3.amazonaws.com"),
     "expected an http(s) URL"),
    (("          region: eu-west-1\n", "          region: eu-west-1\n          acl: x\n"),
     "acl"),
], ids=["bucket", "region-missing", "secret-unset", "endpoint", "unknown-key"])
def test_bad_registry_storage_is_a_usage_error_naming_file_and_line(tmp_path, monkeypatch,
                                                                     change, words):
    monkeypatch.setenv("GP_S3_TOKEN", "glpat-" + "a" * 20)
    monkeypatch.setenv("GP_S3_KEY", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("GP_S3_SECRET", "s3cr3t-value")
    f = tmp_path / "inventory.yml"
    f.write_text(textwrap.dedent(INVENTORY).replace(*change))
    with pytest.raises(UsageError) as info:
        load_inventory(str(f))
    message = str(info.value)
    assert str(f) in message and "registry.storage.s3" in message and words in message
    assert "s3cr3t" not in message


@pytest.mark.lab
def test_a_bucket_shared_by_two_sites_is_not_ready_naming_both(lab):
    """The secondary's registry in the primary's bucket: one lockfiles/ directory for both,
    each site's GC deleting what the other uses. REG-014 blocks from the first step."""
    from labrun import expect, run_now

    s = run_now(lab("shared-bucket"), "migrate-legacy", "--step=import-secondary")
    expect(s, "import-secondary", "NOT_READY")
    r = next(c for c in s["checks"] if c["id"] == "REG-014")
    assert r["outcome"] == "fail" and r["blocking"], r
    assert "eu-primary and us-secondary share one registry storage: s3 " in r["message"]
    assert "bucket registry-eu-primary" in r["message"]
