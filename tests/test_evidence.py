"""The evidence bundle: what it holds, that it is tamper-evident, and that its recorded facts
can be judged again without the deployment."""

from __future__ import annotations

import hashlib
import json

from standin import bundle_members, run_pytest, write_bundle


def test_bundle_round_trip(deployment) -> None:
    d = deployment(version="17.2.9-ee")
    inv = d.inventory()
    first = run_pytest("--profile=migrate-legacy", "--step=prerequisites", f"--inventory={inv}",
                       f"--report-dir={d.tmp / 'reports'}", "--evidence", env=d.env())
    bundle = d.tmp / "reports" / "latest" / "evidence.tar.gz"
    files = bundle_members(bundle)
    assert {"junit.xml", "summary.json", "facts.json", "report.html", "inventory.yml",
            "profiles/migrate-legacy.yml", "SHA256SUMS"} <= set(files)
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(files[name]).hexdigest() == digest
    assert all(d.token.encode() not in data for data in files.values())
    assert b"token_env: GP_TEST_TOKEN" in files["inventory.yml"]

    d.stop()  # the deployment is gone: the bundle alone is judged
    again = run_pytest("--profile=migrate-legacy", "--step=prerequisites",
                       f"--from-evidence={bundle}", f"--report-dir={d.tmp / 'again'}",
                       env={"PATH": "/usr/bin:/bin"})
    assert again.returncode == first.returncode == 1, again.stdout + again.stderr
    old = json.loads(files["summary.json"])
    new = json.loads((d.tmp / "again" / "latest" / "summary.json").read_text())
    assert new["inventory_sha256"] == old["inventory_sha256"]
    assert [(c["id"], c["site"], c["outcome"]) for c in new["checks"]] == \
        [(c["id"], c["site"], c["outcome"]) for c in old["checks"]]


def test_an_altered_bundle_is_refused(deployment) -> None:
    d = deployment()
    run_pytest("--profile=migrate-legacy", f"--inventory={d.inventory()}",
               f"--report-dir={d.tmp / 'reports'}", "--evidence", env=d.env())
    bundle = d.tmp / "reports" / "latest" / "evidence.tar.gz"
    files = bundle_members(bundle)
    files["facts.json"] = files["facts.json"].replace(b"17.10.2-ee", b"17.10.3-ee")
    forged = d.tmp / "forged.tar.gz"
    write_bundle(files, forged)
    r = run_pytest("--profile=migrate-legacy", f"--from-evidence={forged}", env=d.env())
    assert r.returncode == 4 and "facts.json does not match the bundle's SHA256SUMS" in r.stderr
