"""Signed evidence bundles: `--sign-with` signs the manifest with an SSH key (made here with
ssh-keygen), `geopreflight verify` checks manifest, signature and signer, and
`--from-evidence --allowed-signers` refuses a bundle whose signature does not verify."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geopreflight import runmeta
from standin import ROOT, bundle_members, run_pytest, write_bundle


def keypair(tmp: Path, name: str, kind: str) -> Path:
    key = tmp / name
    extra = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", name, "-f",
                    str(key)], check=True, timeout=60)
    return key


def allowed(tmp: Path, who: str, key: Path) -> Path:
    path = tmp / f"allowed-{who}"
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    path.write_text(f"{who} {kind} {blob}\n")
    return path


def verify(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geopreflight.cli", "verify", str(bundle),
                           *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def manifest(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(files.items())
                   if n not in ("SHA256SUMS", "SHA256SUMS.sig")).encode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("keys")
    return {"ed25519": keypair(tmp, "jane", "ed25519"), "rsa": keypair(tmp, "rsa-jane", "rsa"),
            "mallory": keypair(tmp, "mallory", "ed25519")}


def signed_run(d, key: Path, *extra: str, env: dict[str, str] | None = None):
    return run_pytest("--profile=migrate-legacy", "--step=prerequisites",
                      f"--inventory={d.inventory()}", f"--report-dir={d.tmp / 'reports'}",
                      "--evidence", f"--sign-with={key}", *extra,
                      env={**d.env(), "GEOPREFLIGHT_OPERATOR": "jane.doe",
                           "CI_JOB_URL": "https://gitlab.example.com/ops/-/jobs/42", **(env or {})})


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_a_signed_bundle_verifies(deployment, keys, kind: str) -> None:
    d = deployment()
    r = signed_run(d, keys[kind])
    assert r.returncode in (0, 6), r.stdout + r.stderr
    bundle = d.tmp / "reports" / "latest" / "evidence.tar.gz"
    files = bundle_members(bundle)
    assert files["SHA256SUMS.sig"].startswith(b"-----BEGIN SSH SIGNATURE-----")
    assert b"run.json" in files["SHA256SUMS"], "the run metadata is covered by the manifest"
    summary = json.loads(files["summary.json"])

    v = verify(bundle, f"--allowed-signers={allowed(d.tmp, 'jane@example.com', keys[kind])}")
    assert v.returncode == 0, v.stdout + v.stderr
    out = v.stdout
    assert "VERIFIED, signed by jane@example.com" in out
    assert f"{kind.upper()} key SHA256:" in out
    for words in ("profile:    migrate-legacy", "step:       prerequisites (1/4)",
                  f"verdict:    {summary['verdict']}", f"sha256 {summary['inventory_sha256']}",
                  "operator:   jane.doe", "jobs/42", summary["started_at"][:16]):
        assert words in out, (words, out)
    # an auditor can check it by hand with OpenSSH alone
    (d.tmp / "SHA256SUMS.sig").write_bytes(files["SHA256SUMS.sig"])
    by_hand = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(d.tmp / "allowed-jane@example.com"), "-I",
         "jane@example.com", "-n", "geopreflight", "-s", str(d.tmp / "SHA256SUMS.sig")],
        input=files["SHA256SUMS"], capture_output=True, timeout=30)
    assert by_hand.returncode == 0, by_hand.stderr


def test_run_metadata_in_the_bundle(deployment, keys) -> None:
    d = deployment()
    signed_run(d, keys["ed25519"])
    meta = json.loads(bundle_members(d.tmp / "reports" / "latest" / "evidence.tar.gz")["run.json"])
    assert meta["operator"] == "jane.doe"
    assert meta["ci_job_url"] == "https://gitlab.example.com/ops/-/jobs/42"
    assert meta["started_at"] <= meta["ended_at"] and meta["ended_at"].endswith("Z")
    assert meta["host"] and meta["tool_version"]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, timeout=10).stdout.strip()
    assert meta["checks_revision"] == head


def test_tampering_and_another_signer_fail_verify(deployment, keys) -> None:
    d = deployment()
    signed_run(d, keys["ed25519"])
    bundle = d.tmp / "reports" / "latest" / "evidence.tar.gz"
    jane = allowed(d.tmp, "jane@example.com", keys["ed25519"])
    files = bundle_members(bundle)

    byte = dict(files, **{"facts.json": files["facts.json"].replace(b"17.10.2", b"17.10.3")})
    v = verify(write_bundle(byte, d.tmp / "byte.tar.gz"), f"--allowed-signers={jane}")
    assert v.returncode == 1 and "facts.json does not match" in v.stderr, v.stderr

    recomputed = dict(byte, SHA256SUMS=manifest(byte))
    v = verify(write_bundle(recomputed, d.tmp / "recomputed.tar.gz"), f"--allowed-signers={jane}")
    assert v.returncode == 1 and "signature does not match SHA256SUMS" in v.stderr, v.stderr

    sig = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "geopreflight", "-f",
                          str(keys["mallory"])], input=recomputed["SHA256SUMS"],
                         capture_output=True, timeout=30, check=True).stdout
    resigned = write_bundle(dict(recomputed, **{"SHA256SUMS.sig": sig}), d.tmp / "mallory.tar.gz")
    v = verify(resigned, f"--allowed-signers={jane}")
    assert v.returncode == 1 and "which is not in" in v.stderr, v.stderr
    # without allowed_signers the forger's signature is intact, but nobody vouches for it
    v = verify(resigned)
    assert v.returncode == 6 and "NOT CHECKED" in v.stdout, v.stdout

    unsigned = {n: b for n, b in files.items() if n != "SHA256SUMS.sig"}
    v = verify(write_bundle(unsigned, d.tmp / "unsigned.tar.gz"), f"--allowed-signers={jane}")
    assert v.returncode == 1 and "not signed" in v.stderr


def test_from_evidence_refuses_a_bad_signature(deployment, keys) -> None:
    d = deployment()
    first = signed_run(d, keys["ed25519"])
    bundle = d.tmp / "reports" / "latest" / "evidence.tar.gz"
    jane = allowed(d.tmp, "jane@example.com", keys["ed25519"])
    mallory = allowed(d.tmp, "mallory@example.com", keys["mallory"])
    env = {"PATH": os.environ["PATH"]}
    ok = run_pytest("--profile=migrate-legacy", "--step=prerequisites",
                    f"--from-evidence={bundle}", f"--allowed-signers={jane}",
                    f"--report-dir={d.tmp / 'again'}", env=env)
    assert ok.returncode == first.returncode, ok.stdout + ok.stderr
    bad = run_pytest("--profile=migrate-legacy", f"--from-evidence={bundle}",
                     f"--allowed-signers={mallory}", f"--report-dir={d.tmp / 'bad'}", env=env)
    assert bad.returncode == 4 and "refusing to judge the bundle" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr and not (d.tmp / "bad").exists()


@pytest.mark.parametrize("args,words", [
    (["--sign-with={key}"], "add --evidence"),
    (["--evidence", "--sign-with={tmp}/inventory.yml"], "not an SSH key"),
    (["--evidence", "--sign-with={tmp}/missing"], "cannot read the key"),
    (["--allowed-signers={tmp}/inventory.yml"], "use it with --from-evidence"),
])
def test_signing_options_are_checked_before_probing(deployment, keys, args, words) -> None:
    d = deployment()
    inv = d.inventory()
    args = [a.format(key=keys["ed25519"], tmp=d.tmp) for a in args]
    r = run_pytest("--profile=migrate-legacy", f"--inventory={inv}",
                   f"--report-dir={d.tmp / 'reports'}", *args, env=d.env())
    assert r.returncode == 4 and words in r.stderr, r.stderr
    assert not (d.tmp / "reports").exists(), "a usage error writes no report folder"


def test_a_key_in_the_agent_signs(deployment, keys) -> None:
    d = deployment()
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, timeout=30,
                           check=True).stdout
    env = dict(line.split(";")[0].split("=", 1) for line in agent.splitlines()
               if line.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID=")))
    try:
        public = keys["rsa"].with_suffix(".pub")
        refused = signed_run(d, public, env=env)
        assert refused.returncode == 4 and "ssh-add it first" in refused.stderr
        subprocess.run(["ssh-add", "-q", str(keys["rsa"])], env={**os.environ, **env},
                       check=True, timeout=30, capture_output=True)
        r = signed_run(d, public, env=env)
        assert r.returncode in (0, 6), r.stderr
        v = verify(d.tmp / "reports" / "latest" / "evidence.tar.gz",
                   f"--allowed-signers={allowed(d.tmp, 'jane', keys['rsa'])}")
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        os.kill(int(env["SSH_AGENT_PID"]), signal.SIGTERM)


def test_operator_comes_from_geopreflight_then_ci_then_the_os() -> None:
    assert runmeta.operator({"GEOPREFLIGHT_OPERATOR": "jane", "GITLAB_USER_LOGIN": "bot"}) == \
        "jane"
    assert runmeta.operator({"GEOPREFLIGHT_OPERATOR": " ", "GITLAB_USER_LOGIN": "bot"}) == "bot"
    assert runmeta.operator({}) != ""


def test_no_revision_outside_a_checkout(tmp_path: Path) -> None:
    assert runmeta.git_revision(tmp_path) is None
    meta = runmeta.collect(datetime.now(UTC), datetime.now(UTC), tmp_path, environ={})
    assert "checks_revision" not in meta and "ci_job_url" not in meta
