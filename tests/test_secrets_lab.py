"""No secret reaches the terminal, a report, the evidence bundle or a test id: not the tokens
and DSNs the inventory names, and not the ones only the hosts hold (the registry's HTTP
secret, the Geo notification token, the DB password in config.yml, the signing key)."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest
import yaml

from lab import model, postgres
from standin import run_pytest

pytestmark = pytest.mark.lab

OLD_DB_PASSWORD = "PLANT-old-db-6e2a8c4f1b3d"  # metadata_db.moved_from's
PEM_LINE = re.compile(r"^[A-Za-z0-9+/=]{40,}$", re.M)


def host_secrets(root: Path) -> list[str]:
    """Every secret the lab wrote into a site's host files."""
    found: list[str] = []
    config = yaml.safe_load((root / "var/opt/gitlab/registry/config.yml").read_text())
    found.append(str(config["http"]["secret"]))
    found.append(str(config.get("database", {}).get("password") or ""))
    for endpoint in (config.get("notifications") or {}).get("endpoints") or []:
        found += [str(v) for v in endpoint.get("headers", {}).get("Authorization", [])]
    gitlab_yml = yaml.safe_load((root / "var/opt/gitlab/gitlab-rails/etc/gitlab.yml").read_text())
    prod = gitlab_yml.get("production", gitlab_yml)
    found.append(str((prod.get("registry") or {}).get("notification_secret") or ""))
    for key in root.rglob("*.key"):
        found += PEM_LINE.findall(key.read_text())
    return found


def test_no_secret_leaks_anywhere(lab, tmp_path: Path) -> None:
    lab_ = lab("legacy-both")
    secrets = list(lab_.env.values())
    for site in lab_.sites:
        secrets += [site.token, site.dsn, *host_secrets(site.root)]
        if m := re.match(r"postgresql://[^:/]+:([^@]+)@", site.dsn):
            secrets.append(m.group(1))
    secrets = sorted({s for s in secrets if len(s) >= 8})
    assert len(secrets) >= 6, secrets  # tokens, DSNs and passwords, HTTP secrets, Geo token

    reports = tmp_path / "reports"
    runs = [run_pytest("--profile=migrate-legacy", f"--step={step}",
                       f"--inventory={lab_.inventory}", f"--report-dir={reports}",
                       "--evidence", "-v", "-rA", "-l", env=lab_.environ())
            for step in ("prerequisites", "import-primary")]
    runs.append(run_pytest("--profile=migrate-legacy", f"--inventory={lab_.inventory}",
                           "--collect-only", "-q", env=lab_.environ()))
    blobs = {f"run {i} output": r.stdout + r.stderr for i, r in enumerate(runs)}
    for path in reports.rglob("*"):
        if path.is_file() and path.suffix != ".gz":
            blobs[str(path)] = path.read_text(errors="replace")
    for bundle in reports.rglob("evidence.tar.gz"):
        with tarfile.open(bundle) as tar:
            for member in tar.getmembers():
                blobs[f"{bundle}:{member.name}"] = tar.extractfile(member).read().decode(
                    errors="replace")
    assert any("facts.json" in name for name in blobs)
    for name, text in blobs.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({len(secret)} chars) leaked into {name}"


# --- planted secrets: every inventory field, host files, error paths, every output -----------

HOST_PLANTS = {  # gitlab.rb settings of the kinds that hold secrets, none of them read by checks
    "secret_key_base": "PLANT-skb-9c1e5a7f3d2b",
    "otp_key_base": "PLANT-otp-4b8d2f6a1c9e",
    "db_key_base": "PLANT-dbk-7e3a9c5f1b2d",
    "encrypted_settings_key_base": "PLANT-esk-2d6f8a4c1e3b",
    "google_json_key_string": "PLANT-gjk-5a1c7e9b3d4f",
    "registry_notification_secret": "PLANT-rns-8f2b4d6a9c1e",
    "db_password": "PLANT-dbp-3c5e7a9b1d2f",
}


def _forms(secret: str) -> set[str]:
    """The forms a leak could take that are searched as text (base64 is decoded instead)."""
    import json
    from urllib.parse import quote, quote_plus

    return {secret, json.dumps(secret)[1:-1], json.dumps(json.dumps(secret))[1:-1],
            repr(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}


B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


def _leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets found in `text`: raw, escaped, URL-encoded, or inside any base64 run
    (decoded at every offset, standard and URL-safe), so Basic auth of any user is caught."""
    import base64
    import binascii

    found = {s for s in secrets for f in _forms(s) if f in text}
    for run in B64_RUN.findall(text):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[:len(chunk) // 4 * 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    raw = decode(chunk + "==")
                except (binascii.Error, ValueError):
                    continue
                found |= {s for s in secrets if s.encode() in raw}
    return sorted(found)


def _outputs(folder: Path) -> dict[str, str]:
    """Every file under `folder`, and every member of every bundle, as text."""
    blobs: dict[str, str] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.endswith(".tar.gz"):
            blobs[str(path)] = path.read_bytes().decode(errors="replace")
        elif path.is_file():
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    body = tar.extractfile(member)
                    blobs[f"{path}:{member.name}"] = (body.read() if body else b"").decode(
                        errors="replace")
    return blobs


def test_planted_secrets_never_leave(fresh_lab, tmp_path: Path) -> None:
    """Secrets planted in every inventory field that can hold one (token_env, token_file,
    inline token, dsn_env, dsn_file, password_file, inline password, and metadata_db.moved_from's
    password_file and inline password, read and refused), in gitlab.rb (the
    instance's key bases, passwords), the registry's config.yml (http.secret, notification
    token) and gitlab.yml, and through the error paths (a token file with a second line, a DSN
    libpq cannot parse): no form of any of them reaches stdout/stderr, a report, the bundle,
    the --debug log or the cache (pytest's own --junitxml is refused)."""
    import os
    import subprocess
    import sys

    scenario = tmp_path / "planted.yml"
    rb_lines = [f"gitlab_rails['{k}'] = '{v}'" for k, v in HOST_PLANTS.items()]
    scenario.write_text(yaml.safe_dump({
        "description": "legacy-both with secrets planted in gitlab.rb", "extends": "legacy-both",
        "sites": {name: {"host": {"gitlab_rb_append": rb_lines}}
                  for name in ("eu-primary", "us-secondary")}}))
    lab_ = fresh_lab(str(scenario))
    eu, us = lab_.site("eu-primary"), lab_.site("us-secondary")
    db_password = re.match(r"postgresql://[^:/]+:([^@]+)@", us.dsn).group(1)
    # metadata_db.moved_from (an old database) reaches the secondary's cluster as a role of
    # its own, so its password is a secret nothing else holds
    us_cluster = next(c for c in lab_.model["clusters"] if c["name"] == "us-secondary")
    postgres.create_monitoring_role(model.cluster(us_cluster, Path(lab_.model["pg_root"])),
                                    "old_reader", OLD_DB_PASSWORD)
    secrets = [eu.token, us.token, eu.dsn, us.dsn, db_password, OLD_DB_PASSWORD,
               *HOST_PLANTS.values()]
    for site in (eu, us):
        secrets += host_secrets(site.root)
        secrets.append(re.match(r"postgresql://[^:/]+:([^@]+)@", site.dsn).group(1))
    secrets = sorted({s for s in secrets if len(s) >= 8})

    files = tmp_path / "secrets"
    files.mkdir()
    (files / "us-token").write_text(us.token + "\n")
    (files / "eu-dsn").write_text(eu.dsn + "\n")
    (files / "us-dbpass").write_text(db_password + "\n")
    (files / "old-dbpass").write_text(OLD_DB_PASSWORD + "\n")
    inventory = yaml.safe_load(lab_.inventory.read_text())
    by_name = {s["name"]: s for s in inventory["sites"]}
    by_name["eu-primary"]["gitlab"]["token"] = eu.token  # inline: accepted, with a warning
    del by_name["eu-primary"]["gitlab"]["token_env"]
    by_name["eu-primary"]["metadata_db"] = {"dsn_file": str(files / "eu-dsn")}
    by_name["us-secondary"]["gitlab"]["token_file"] = str(files / "us-token")
    del by_name["us-secondary"]["gitlab"]["token_env"]
    m = re.match(r"postgresql://([^:/]+):[^@]+@([^:/]+):(\d+)/(\w+)", us.dsn)
    by_name["us-secondary"]["metadata_db"] = {"host": m.group(2), "port": int(m.group(3)),
                                              "dbname": m.group(4), "user": m.group(1),
                                              "password_file": str(files / "us-dbpass")}
    old_db = {"host": m.group(2), "port": int(m.group(3)), "dbname": m.group(4),
              "user": "old_reader", "password_file": str(files / "old-dbpass")}
    by_name["eu-primary"]["metadata_db"]["moved_from"] = old_db
    planted_inv = tmp_path / "inventory.yml"
    planted_inv.write_text(yaml.safe_dump(inventory, sort_keys=False))
    inline_inv = tmp_path / "inline.yml"  # the DB password inline too
    by_name["us-secondary"]["metadata_db"]["password"] = db_password
    del by_name["us-secondary"]["metadata_db"]["password_file"]
    # the old database's password inline too, on its error path (no such database)
    old_db.update(password=OLD_DB_PASSWORD, dbname="registry_gone")
    del old_db["password_file"]
    inline_inv.write_text(yaml.safe_dump(inventory, sort_keys=False))

    bad_token = tmp_path / "bad-token"  # the error paths
    bad_token.write_text(f"{us.token}\n# rotated, old: {eu.token}\n")
    bad_token_inv = tmp_path / "bad-token.yml"
    bad_token_inv.write_text(planted_inv.read_text().replace(str(files / "us-token"),
                                                             str(bad_token)))
    bad_dsn = tmp_path / "bad-dsn"
    bad_dsn.write_text(f"host=x {db_password} password={db_password}\n")
    bad_dsn_inv = tmp_path / "bad-dsn.yml"
    bad_dsn_inv.write_text(planted_inv.read_text().replace(str(files / "eu-dsn"), str(bad_dsn)))

    out = tmp_path / "out"
    out.mkdir()
    env = {**lab_.environ(), "PATH": os.environ["PATH"]}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-o", f"cache_dir={out}/cache",
                               *args], cwd=Path(__file__).resolve().parent.parent, env=env,
                              capture_output=True, text=True, timeout=300)

    runs = []
    for i, (inv, step) in enumerate([(planted_inv, "prerequisites"),
                                     (inline_inv, "import-secondary")]):
        runs.append(run("--profile=migrate-legacy", f"--step={step}", f"--inventory={inv}",
                        f"--report-dir={out}/reports", "--evidence", "-v", "-rA", "-l",
                        f"--debug={out}/debug-{i}.log"))
    assert runs[0].returncode in (0, 1, 6), runs[0].stdout[-2000:] + runs[0].stderr[-2000:]
    bundles = list((out / "reports").rglob("evidence.tar.gz"))
    assert len(bundles) == 2, [r.stdout[-1500:] + r.stderr[-1500:] for r in runs]
    runs.append(run("--profile=migrate-legacy", f"--from-evidence={bundles[0]}",
                    f"--report-dir={out}/again"))
    # pytest's own --junitxml is refused (geopreflight's junit.xml is the one to keep); what
    # it prints holds no secret either
    refused = run("--profile=migrate-legacy", f"--inventory={planted_inv}",
                  f"--report-dir={out}/refused", f"--junitxml={out}/own-junit.xml")
    assert refused.returncode == 4 and not (out / "own-junit.xml").exists()
    runs.append(refused)
    for bad in (bad_token_inv, bad_dsn_inv):
        r = run("--profile=migrate-legacy", f"--inventory={bad}", f"--report-dir={out}/bad",
                f"--debug={out}/debug-bad-{bad.stem}.log")
        assert r.returncode == 4, r.stdout[-1000:] + r.stderr[-1000:]
        runs.append(r)
    assert not (out / "bad").exists()

    blobs = {f"run {i} output": r.stdout + r.stderr for i, r in enumerate(runs)}
    blobs.update(_outputs(out))
    kinds = {"facts.json", "junit.xml", "summary.json", "report.html", "debug",
             "cache", "inventory.yml", "SHA256SUMS"}
    assert all(any(k in name for name in blobs) for k in kinds), sorted(blobs)
    moved = [f for name, text in blobs.items() if name.endswith("facts.json")
             for f in json.loads(text)["facts"] if f["key"] == "db.content_moved_from"]
    assert {(f["error"] is None, "registry_gone" in f["source"]) for f in moved} == {
        (True, False), (False, True)}, moved  # the old database read, and refused
    assert "gitlab_rails['secret_key_base']" in (eu.root / "etc/gitlab/gitlab.rb").read_text()
    leaked = {name: found for name, text in blobs.items() if (found := _leaks(text, secrets))}
    print(f"secret placements: {len(secrets)} values x {len(blobs)} outputs; leaked: "
          f"{len(leaked)}")
    assert not leaked, {k: [f"{len(s)} chars" for s in v] for k, v in leaked.items()}
