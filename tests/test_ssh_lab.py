"""Host roots read over real SSH (the lab's sshd, Debian's openssh-server): READY as a non-root
user with sudo and one login per host per run, and each way a login or a read fails is one
readable line naming the host and the cause."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from geopreflight.inventory import Host
from geopreflight.probes import ProbeError
from geopreflight.probes.host import GITLAB_RB, HostFiles
from lab import sshd
from labrun import expect, run_now

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not sshd.available(), reason="needs openssh-server and sudo")]

ML = "migrate-legacy"


def _ssh(lab) -> dict:
    return lab.model["ssh"]


def _hosts(inventory: dict) -> list[dict]:
    return [h for s in inventory["sites"] for h in ([s["host"]] if "host" in s else s["hosts"])]


def test_ready_over_ssh_as_a_sudo_user_with_one_login_per_host(lab):
    d = lab("multinode-ssh")
    inventory = yaml.safe_load((d.dir / "inventory.yml").read_text())
    hosts = _hosts(inventory)
    assert len(hosts) == 3 and all(h["target"].startswith(f"ssh://{sshd.USER}@") and h["sudo"]
                                   for h in hosts)
    before = sshd.logins(_ssh(d))
    s = run_now(d, ML, "--step=import-secondary")
    expect(s, "import-secondary", "READY")
    assert sshd.logins(_ssh(d)) - before == len(hosts)  # not one per file read
    host_rows = [c for c in s["checks"] if c["id"] == "HOST-001" and c["site"] == "us-secondary"]
    assert {c.get("host") for c in host_rows} == {"main", "sidekiq1"}, host_rows


def test_a_refused_ssh_target_is_one_readable_line_naming_the_host(lab, tmp_path):
    d = lab("legacy-both-ssh")
    inventory = yaml.safe_load((d.dir / "inventory.yml").read_text())
    inventory["sites"][1]["host"]["target"] = f"ssh://{sshd.USER}@127.0.0.1:1"
    bad = tmp_path / "inventory.yml"
    bad.write_text(yaml.safe_dump(inventory))
    from standin import run_pytest

    proc = run_pytest(f"--profile={ML}", f"--inventory={bad}", "--step=import-secondary",
                      f"--report-dir={tmp_path / 'r'}", env=d.environ())
    out = proc.stdout + proc.stderr
    assert "CommandResult(" not in out and "Traceback" not in out
    facts = json.loads((tmp_path / "r" / "latest" / "facts.json").read_text())["facts"]
    errors = {f["error"] for f in facts if f["key"].startswith("host.") and
              f["site"] == "us-secondary"}
    assert errors == {f"host ssh://{sshd.USER}@127.0.0.1:1: cannot log in over SSH: connection "
                      "refused (is sshd listening on that port?)"}, errors
    summary = json.loads((tmp_path / "r" / "latest" / "summary.json").read_text())
    assert summary["verdict"] == "CANNOT_DETERMINE" or summary["verdict"] == "NOT_READY"
    row = next(c for c in summary["checks"] if c["id"] == "HOST-003"
               and c["site"] == "us-secondary")
    assert row["outcome"] == "error" and "connection refused" in row["message"]


def _files(lab, tmp_path: Path, **changes) -> HostFiles:
    ssh = _ssh(lab)
    spec = {"target": ssh["target"], "root": str(lab.site("us-secondary").root),
            "ssh_config": ssh["config"], "ssh_identity_file": ssh["identity"], "sudo": True,
            **changes}
    return HostFiles(Host(**spec), 10, 5)


def _error(files: HostFiles) -> str:
    try:
        with pytest.raises(ProbeError) as exc:
            files.read(GITLAB_RB)
        return str(exc.value)
    finally:
        files.close()


def test_an_unknown_host_key_names_the_cause(lab, tmp_path):
    ssh = _ssh(lab("legacy-both-ssh"))
    config = tmp_path / "ssh_config"
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config.write_text(Path(ssh["config"]).read_text().replace(
        str(Path(ssh["dir"]) / "known_hosts"), str(empty)))
    msg = _error(_files(lab("legacy-both-ssh"), tmp_path, ssh_config=str(config)))
    assert msg.startswith(f"host {ssh['target']}: cannot log in over SSH: the host key is "
                          "unknown or has changed"), msg


def test_a_key_the_server_does_not_accept_names_authentication(lab, tmp_path):
    d = lab("legacy-both-ssh")
    ssh = _ssh(d)
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True)
    config = tmp_path / "ssh_config"
    config.write_text(Path(ssh["config"]).read_text().replace(ssh["identity"], str(other)))
    msg = _error(_files(d, tmp_path, ssh_config=str(config), ssh_identity_file=str(other)))
    assert msg == (f"host {ssh['target']}: cannot log in over SSH: authentication failed (the "
                   "key or user is not accepted)"), msg


def test_without_sudo_the_0600_gitlab_rb_is_permission_denied_with_its_path(lab, tmp_path):
    d = lab("legacy-both-ssh")
    path = Path(d.site("us-secondary").root) / GITLAB_RB.lstrip("/")
    msg = _error(_files(d, tmp_path, sudo=False))
    # the lab's directory under pytest's tmp is not searchable by others, so the denied
    # path is the first directory on the way or the file itself; never "missing"
    assert "permission denied on " in msg and "set sudo: true" in msg, msg
    blocked = msg.split("permission denied on ")[1].split(" for ")[0]
    assert str(path).startswith(blocked), (blocked, path)


def test_a_server_that_stalls_the_login_ends_at_the_run_timeouts(lab, tmp_path):
    """A real sshd whose key lookup never ends (AuthorizedKeysCommand sleeps): the SSH
    handshake completes, so ssh's ConnectTimeout does not apply, and only ServerAlive would
    end it (10 s). The login is bounded locally by connect_s + read_s and says so."""
    import socket
    import time

    ssh = _ssh(lab("legacy-both-ssh"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = Path(ssh["dir"])
    config = tmp_path / "sshd_config"
    config.write_text("\n".join(
        f"Port {port}" if line.startswith("Port ") else
        "AuthorizedKeysCommand /bin/sleep 30" if line.startswith("AuthorizedKeysCommand ") else
        line for line in (base / "sshd_config").read_text().splitlines()) + "\n")
    known = tmp_path / "known_hosts"
    known.write_text((base / "known_hosts").read_text().replace(f"]:{ssh['port']} ",
                                                                 f"]:{port} "))
    client = tmp_path / "ssh_config"
    client.write_text(Path(ssh["config"]).read_text().replace(str(base / "known_hosts"),
                                                              str(known)))
    server = subprocess.Popen([str(sshd.SSHD), "-D", "-f", str(config), "-E",
                               str(tmp_path / "sshd.log")])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        files = HostFiles(Host(target=f"ssh://{sshd.USER}@127.0.0.1:{port}",
                               root=str(lab("legacy-both-ssh").site("us-secondary").root),
                               ssh_config=str(client), ssh_identity_file=ssh["identity"],
                               sudo=True), 2, 1)
        t0 = time.monotonic()
        msg = _error(files)
        took = time.monotonic() - t0
    finally:
        server.kill()
        server.wait()
    assert "cannot log in over SSH: no session within 3 s" in msg, msg
    assert took < 3 + 1.5, took


def test_a_login_that_failed_is_not_retried_for_every_file(lab, tmp_path):
    files = _files(lab("legacy-both-ssh"), tmp_path, target=f"ssh://{sshd.USER}@127.0.0.1:1")
    first = _error(files)
    with pytest.raises(ProbeError) as again:
        files.read("/etc/gitlab/gitlab-cluster.json")
    assert str(again.value) == first
