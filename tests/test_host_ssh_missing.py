"""An `ssh://` host where no `ssh` client is installed (a CI image without openssh-client) is
one cause, "ssh is not installed where geopreflight runs", not "the read failed (exit 127)"
once per file (issue 22)."""

from __future__ import annotations

import json
import os

import yaml
from test_site_scope import ENV

from standin import ROOT, run_pytest

INVENTORY = ROOT / "geopreflight" / "checks" / "recorded" / "legacy-both.inventory.yml"


def test_no_ssh_client_is_one_cause_naming_it(tmp_path):
    inventory = yaml.safe_load(INVENTORY.read_text())
    for site in inventory["sites"]:
        site["host"] = {"target": "ssh://ops@127.0.0.1:1", "root": "/"}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    bare = tmp_path / "bin"  # a PATH with no ssh on it
    bare.mkdir()
    proc = run_pytest("--profile=migrate-legacy", f"--inventory={path}",
                      "--step=prerequisites", f"--report-dir={tmp_path / 'r'}",
                      env={**os.environ, **ENV, "PATH": str(bare)})
    facts = json.loads((tmp_path / "r" / "latest" / "facts.json").read_text())["facts"]
    errors = {f["error"] for f in facts if f["key"].startswith("host.")}
    assert errors == {"host ssh://ops@127.0.0.1:1: ssh is not installed where geopreflight "
                      "runs (install OpenSSH's client, e.g. apt-get install openssh-client)"}, \
        errors
    assert "exit 127" not in proc.stdout
    lines = proc.stdout.splitlines()
    causes = [i for i, x in enumerate(lines) if x.startswith("[") and "host files" in x]
    assert causes and all("ssh is not installed where geopreflight runs" in lines[i]
                          and "install OpenSSH's client" in lines[i + 1] for i in causes), \
        [lines[i] for i in causes]
