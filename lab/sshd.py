"""The lab's sshd: Debian's OpenSSH server on 127.0.0.1, so the checker reads host roots over
real SSH as a non-root user with sudo, as it would a production node.

Everything it needs lives under `<lab>/ssh/` (its host key, its config, the client's key,
known_hosts and an ssh_config the inventory names); it runs with the lab (`run/sshd.pid`, so
`down` stops it) and logs at `LogLevel VERBOSE` to `<lab>/ssh/sshd.log`, one
"Accepted publickey" line per login, which is how the tests count logins. Outside the lab
directory it needs a system user (`gpssh`, created when absent) and a sudoers rule letting that
user run `timeout` (the checker's read command) as root without a password.
"""

from __future__ import annotations

import pwd
import subprocess
import time
from pathlib import Path
from typing import Any

from . import ports, procs

SSHD = Path("/usr/sbin/sshd")
USER = "gpssh"
SUDOERS = Path("/etc/sudoers.d/geopreflight-lab")
# what the checker runs through `sudo -n` (see geopreflight/probes/host.py)
SUDO_RULE = f"{USER} ALL=(root) NOPASSWD: /usr/bin/timeout\n"


class SshdError(RuntimeError):
    """The lab's sshd could not be set up or did not start."""


def available() -> bool:
    return SSHD.exists() and Path("/usr/bin/sudo").exists()


def ensure_user() -> None:
    """The non-root login user and its sudo rule (created once per machine)."""
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/bin/sh", USER], check=True, capture_output=True)
    # a locked account ("!") is refused by sshd without PAM; "*" only forbids passwords
    subprocess.run(["usermod", "-p", "*", USER], check=True, capture_output=True)
    if not SUDOERS.exists() or SUDOERS.read_text() != SUDO_RULE:
        tmp = SUDOERS.with_name(SUDOERS.name + ".tmp")
        tmp.write_text(SUDO_RULE)
        tmp.chmod(0o440)
        check = subprocess.run(["visudo", "-cf", str(tmp)], capture_output=True, text=True)
        if check.returncode != 0:
            tmp.unlink()
            raise SshdError(f"the sudoers rule does not parse: {check.stdout or check.stderr}")
        tmp.replace(SUDOERS)


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "geopreflight-lab",
                    "-f", str(path)], check=True, capture_output=True)


def setup(lab_dir: Path) -> dict[str, Any]:
    """Keys, sshd_config, known_hosts and the client's ssh_config; the model `up` keeps."""
    if not available():
        raise SshdError("the lab's sshd needs openssh-server and sudo (scripts/setup installs "
                        "them)")
    ensure_user()
    d = Path(lab_dir) / "ssh"
    d.mkdir(parents=True, exist_ok=True)
    port = ports.free_port(str(lab_dir))
    host_key, client_key = d / "ssh_host_ed25519_key", d / "id_ed25519"
    for key in (host_key, client_key):
        if not key.exists():
            _keygen(key)
    (d / "authorized_keys").write_text((d / "id_ed25519.pub").read_text())
    (d / "authorized_keys").chmod(0o644)
    host_pub = (d / "ssh_host_ed25519_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    (d / "sshd_config").write_text(f"""# the geopreflight lab's sshd (lab/sshd.py)
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile none
# read as root: the lab's directory may be closed to the login user (pytest's tmp is 0700)
AuthorizedKeysFile none
AuthorizedKeysCommand /bin/cat {d / 'authorized_keys'}
AuthorizedKeysCommandUser root
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers {USER}
LogLevel VERBOSE
MaxStartups 100:30:200
""")
    (d / "ssh_config").write_text(f"""# what an operator's ~/.ssh/config holds for a GitLab node
Host 127.0.0.1
  User {USER}
  IdentityFile {client_key}
  IdentitiesOnly yes
  UserKnownHostsFile {d / 'known_hosts'}
  StrictHostKeyChecking yes
""")
    return {"port": port, "user": USER, "dir": str(d), "config": str(d / "ssh_config"),
            "identity": str(client_key), "log": str(d / "sshd.log"),
            "target": f"ssh://{USER}@127.0.0.1:{port}"}


def start(info: dict[str, Any], run_dir: Path, timeout: float = 10.0) -> int:
    """Start sshd in the foreground of its own session; wait until it listens."""
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege-separation directory
    d = Path(info["dir"])
    pid = procs.spawn("sshd", [str(SSHD), "-D", "-f", str(d / "sshd_config"), "-E",
                               info["log"]], run_dir, log=d / "sshd.out")
    deadline = time.monotonic() + timeout
    while not ports.listening(info["port"]):
        if not procs.alive(pid) or time.monotonic() > deadline:
            log = Path(info["log"])
            tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
            raise SshdError(f"sshd did not start on 127.0.0.1:{info['port']}: "
                            f"{tail[0] if tail else 'no log'}")
        time.sleep(0.02)
    return pid


def logins(info: dict[str, Any]) -> int:
    """How many logins sshd accepted so far (its VERBOSE log, one line per login)."""
    log = Path(info["log"])
    return log.read_text().count("Accepted publickey") if log.exists() else 0
