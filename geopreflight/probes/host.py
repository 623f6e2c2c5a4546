"""Host files, read through testinfra (any host spec; `local://` for the lab).

`root` prefixes every path so the lab can keep a site's files in a directory. Reads go
through one shell command per file, bounded in time and size; a file that is missing reads as
None. Over SSH (`ssh://`) each host is logged into once per run: OpenSSH's ControlMaster keeps
one connection in a private socket, every read reuses it, and the run closes it at the end.
A failure is one line naming the host and the cause (refused, authentication, host key,
sudo, permission denied with the path), never testinfra's `CommandResult(...)` repr.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..failures import Kind, ProbeFailure
from ..inventory import Host, Site
from . import ProbeContext, ProbeError, probe
from .codec import from_json
from .models import HostConfig, HostVersion

VERSION_FILE = "/opt/gitlab/embedded/service/gitlab-rails/VERSION"
MANIFESTS = ("/opt/gitlab/version-manifest.json", "/opt/gitlab/version-manifest.txt")
# The files read are configuration (a full gitlab.rb template is about 150 KiB), a version, a
# certificate and lockfiles: 2 MiB is far above any of them.
HOST_CAP = 2 * 1024 * 1024
# One command per file, bounded in time (`timeout`) and size (`head -c`); only a regular file
# is read, so a FIFO or a link to /dev/zero is an error at once. A path that seems missing
# because a directory on the way cannot be searched is "unreadable", never "missing" (a
# non-root user would otherwise see no gitlab-cluster.json and trust gitlab.rb).
_READ = ('f="$1"; if [ -e "$f" ]; then '
         'if [ ! -f "$f" ]; then echo not-a-file; elif [ ! -r "$f" ]; then echo unreadable; '
         'else echo file; head -c "$2" -- "$f"; fi; '
         'else d="$f"; while [ "$d" != "${d%/*}" ]; do d=${d%/*}; [ -e "$d" ] && break; '
         'done; if [ -e "$d" ] && [ ! -x "$d" ]; then echo unreadable; echo "$d"; '
         'else echo missing; fi; fi')
# The PEM text of a directory's readable regular files (trusted-certs), capped like one file.
_PEMS = ('d="$1"; if [ ! -e "$d" ]; then echo missing; elif [ ! -d "$d" ] || [ ! -r "$d" ] '
         '|| [ ! -x "$d" ]; then echo unreadable; echo "$d"; else echo file; '
         'for f in "$d"/*; do if [ -f "$f" ] && [ -r "$f" ]; then head -c "$2" -- "$f"; echo; '
         'fi; done | head -c "$2"; fi')
# GET a URL from the node itself, headers only: curl bounded by --max-time and the read's
# `timeout`, the answer capped by `head -c`; "no-curl" when the node has no curl. TLS is not
# judged here (-k): what the node trusts is verified separately, with its own certificates.
_GET_HEADERS = ('command -v curl >/dev/null 2>&1 || { echo no-curl; exit 0; }; echo headers; '
                'curl -sS -k -o /dev/null -D - --max-time "$3" --max-redirs 0 -- "$1" 2>&1 '
                '| head -c "$2"')
# Where offline garbage collection is scheduled: each place that exists must be searchable
# (else "unreadable <path>"), then the lines naming `garbage-collect`, as file:line, capped.
GC_PLACES = ("/etc/crontab", "/etc/cron.d", "/etc/cron.daily", "/etc/cron.weekly",
             "/etc/cron.hourly", "/etc/cron.monthly", "/var/spool/cron/crontabs",
             "/var/spool/cron", "/etc/systemd/system", "/lib/systemd/system")
_GC = ('r="$1"; shift 1; for p in "$@"; do f="$r$p"; [ -e "$f" ] || continue; '
       'if [ -d "$f" ] && { [ ! -r "$f" ] || [ ! -x "$f" ]; }; then echo "unreadable $p"; '
       'elif [ ! -d "$f" ] && [ ! -r "$f" ]; then echo "unreadable $p"; fi; done; '
       'echo found; for p in "$@"; do f="$r$p"; [ -e "$f" ] || continue; '
       'grep -rIsn --exclude-dir=*.wants -e "garbage-collect" -- "$f"; done | head -c 65536')
SSH_SCHEMES = ("ssh", "safe-ssh")
# No prompt can hang a run (BatchMode); a dead connection ends within ~10 s (ServerAlive).
SSH_ARGS = "-o BatchMode=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=2"
SSH_CAUSES = (  # ssh's stderr -> the cause, in the words an operator acts on, and its kind
    ("Connection refused", "connection refused (is sshd listening on that port?)",
     Kind.REFUSED),
    ("Host key verification failed", "the host key is unknown or has changed (check "
                                     "known_hosts or the ssh_config's UserKnownHostsFile)",
     Kind.AUTH),
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "the host key has changed (known_hosts)",
     Kind.AUTH),
    ("Permission denied", "authentication failed (the key or user is not accepted)",
     Kind.AUTH),
    ("Could not resolve hostname", "the host name does not resolve", Kind.DNS),
    ("timed out", "the connection timed out (connect_s)", Kind.TIMEOUT),
    ("No route to host", "no route to host", Kind.REFUSED),
    ("Connection closed", "the server closed the connection", Kind.OTHER),
)
_LOCK = threading.Lock()


def shown(target: str) -> str:
    """A target fit for a message: an `ssh://user:password@host` password is dropped."""
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = (f"{parts.username}@" if parts.username else "") + (parts.hostname or "") + (
        f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def ssh_cause(stderr: str) -> tuple[str, Kind]:
    """Why ssh could not run a command, from its stderr, in one line, and its kind."""
    for marker, cause, kind in SSH_CAUSES:
        if marker in stderr:
            return cause, kind
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return (lines[-1] if lines else "ssh failed with no message"), Kind.OTHER


class HostFiles:
    """One node's files, as testinfra sees it.

    >>> import tempfile, pathlib
    >>> d = tempfile.mkdtemp(); _ = (pathlib.Path(d) / "etc").mkdir()
    >>> _ = (pathlib.Path(d) / "etc" / "x").write_text("hi")
    >>> h = HostFiles(Host("local://", d))
    >>> h.read("/etc/x"), h.read("/etc/missing")
    ('hi', None)
    """

    def __init__(self, host: Host, timeout_s: float = 10.0, connect_s: float = 5.0) -> None:
        import testinfra

        self.host, self.root, self.timeout_s = host, host.root, timeout_s
        self.login_s = connect_s + timeout_s  # opening the SSH connection, locally bounded
        self._logged_in = False
        self.where = f"host {host.label}" + (f" ({shown(host.target)})" if host.name else "")
        self.target = shown(host.target)
        self._lock = threading.Lock()
        self._failed: ProbeError | None = None
        self._done: dict[tuple[str, str], Any] = {}  # (path, script) -> its command's result
        self._control: str | None = None
        kwargs: dict[str, Any] = {}
        for key in ("ssh_config", "ssh_identity_file"):
            if getattr(host, key):
                kwargs[key] = os.path.expanduser(getattr(host, key))
        if urlsplit(host.target).scheme in SSH_SCHEMES:
            if shutil.which("ssh") is None:  # else: "the read failed (exit 127)" per file
                why = (f"{self.where}: ssh is not installed where geopreflight runs (install "
                       "OpenSSH's client, e.g. apt-get install openssh-client)")
                raise ProbeError(why, failure=ProbeFailure(Kind.NO_TOOL, why, self.where))
            self._control = tempfile.mkdtemp(prefix="gp-ssh-")  # short: a socket path is short
            kwargs.update(controlpath=posixpath.join(self._control, "c"), controlpersist=60,
                          timeout=max(1, round(connect_s)), ssh_extra_args=SSH_ARGS)
        try:
            self._host = testinfra.get_host(host.target, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any backend failure is this probe's error
            raise ProbeError(f"{self.where}: {exc}".splitlines()[0]) from None
        _end_options(self._host.backend, self.where)

    def path(self, path: str) -> str:
        return posixpath.join(self.root, path.lstrip("/"))

    def _run(self, full: str, script: str = _READ, args: tuple[str, ...] | None = None,
             timeout_s: float | None = None, cap: int = HOST_CAP) -> Any:
        """One bounded read, done once per run (the probes that need a file share its
        answer); a login failure is kept, so a host is tried once per run."""
        with self._lock:
            if (full, script) in self._done:
                return self._done[full, script]
            if self._failed is not None:
                raise self._failed
            if self._control is not None and not self._logged_in:
                self._failed = self._login(full)
                if self._failed is not None:
                    raise self._failed
                self._logged_in = True
            sudo = "sudo -n " if self.host.sudo else ""
            try:
                limit = timeout_s or self.timeout_s
                argv = args if args is not None else (
                    full, str(cap + 1), f"{max(1, limit - 1):g}")
                out = self._done[full, script] = self._host.run(
                    sudo + "timeout %s sh -c %s sh" + " %s" * len(argv),
                    f"{limit:g}", script, *argv)
                return out
            except RuntimeError as exc:  # testinfra's ssh backend: exit 255, its CommandResult
                out = exc.args[0] if exc.args else None
                self._failed = self._refused(ssh_cause(getattr(out, "stderr", "") or ""),
                                             full)
            except Exception as exc:  # noqa: BLE001
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self._failed = ProbeError(f"{self.where}: cannot run a command: {first}", full)
            raise self._failed

    def _run_args(self, script: str, *args: str) -> Any:
        """One bounded command with its own arguments (`$1`...), through `_run`'s login and
        sudo rules: `_run` keys on a path, here the joined arguments."""
        return self._run(" ".join(args), script, args)

    def _login(self, full: str) -> ProbeError | None:
        """Open the shared connection (the one login) with `true`, within `login_s`, killed at
        the deadline: ssh's ConnectTimeout does not cover the name lookup or a server that
        stalls authentication, and testinfra runs ssh with no timeout of its own. The
        command is testinfra's own (`_build_ssh_command`), so the master is the one every
        later read reuses."""
        backend = self._host.backend
        cmd, args = backend._build_ssh_command("true")
        line = backend.quote(" ".join(cmd), *args)
        proc = subprocess.Popen(line, shell=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=self.login_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return self._refused((f"no session within {self.login_s:g} s (connect_s + "
                                  "read_s: the name does not resolve in time, or the server "
                                  "stalls the login)", Kind.TIMEOUT), full)
        if proc.returncode == 255:
            return self._refused(ssh_cause(err.decode(errors="replace")), full)
        return None

    def _refused(self, cause: tuple[str, Kind], full: str) -> ProbeError:
        """The login failed: `cause` is ssh's reason and its kind."""
        why = f"{self.where}: cannot log in over SSH: {cause[0]}"
        return ProbeError(why, full, ProbeFailure(cause[1], why, self.where))

    def read(self, path: str) -> str | None:
        """The file's text, or None when it does not exist; an error for anything but a
        regular UTF-8 file of at most HOST_CAP bytes read within the timeout."""
        return self._text(self.path(path), _READ)

    def certificates(self, path: str) -> str | None:
        """The text of every readable regular file in directory `path` (a trusted-certs
        directory: PEM certificates and their hash links), at most HOST_CAP bytes in all;
        None when the directory does not exist.

        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "certs").mkdir()
        >>> _ = (d / "certs" / "a.crt").write_text("A"); _ = (d / "certs" / "b.pem").write_text("B")
        >>> h = HostFiles(Host("local://", str(d)))
        >>> h.certificates("/certs").split(), h.certificates("/none")
        (['A', 'B'], None)
        """
        return self._text(self.path(path), _PEMS)

    def get_headers(self, url: str) -> str | None:
        """GET `url` from the node itself (one bounded curl over the host connection): the
        response's status line and headers as text, or None when the node has no curl."""
        out = self._run(url, _GET_HEADERS)
        kind, _, data = out.stdout_bytes.partition(b"\n")
        if out.rc == 124:
            why = f"GET {url} from {self.where}: no answer within {self.timeout_s:g} s (read_s)"
            raise ProbeError(why, url, ProbeFailure(Kind.TIMEOUT, why, url))
        if kind == b"no-curl":
            return None
        if kind != b"headers":
            raise ProbeError(f"GET {url} from {self.where}: the command failed (exit {out.rc})",
                             url)
        return data[:HOST_CAP].decode(errors="replace")

    def gc_schedules(self) -> tuple[list[str], str | None]:
        """The cron and systemd lines that run `garbage-collect` (`file:line: text`, paths
        without the root), and which place could not be read (None: every place was)."""
        out = self._run_args(_GC, self.root.rstrip("/"), *GC_PLACES)
        if out.rc == 124:
            why = (f"searching the schedules on {self.where}: no answer within "
                   f"{self.timeout_s:g} s (read_s)")
            raise ProbeError(why, "/etc/cron.d", ProbeFailure(Kind.TIMEOUT, why, self.where))
        head, _, found = out.stdout_bytes.decode(errors="replace").partition("found\n")
        blocked = [ln.split(" ", 1)[1] for ln in head.splitlines()
                   if ln.startswith("unreadable ")]
        root = self.root.rstrip("/")
        lines = [ln[len(root):] if root and ln.startswith(root) else ln
                 for ln in found.splitlines() if ln.strip()]
        return lines, (f"permission denied on {', '.join(blocked)} for the login user"
                       if blocked else None)

    def listing(self, path: str, script: str, timeout_s: float, cap: int) -> str | None:
        """What `script` prints about directory `path` (`$1`, with the cap as `$2`): one
        command for a whole tree, with its own deadline and cap; None when it is missing.
        The script prints `missing`, `unreadable` (and the path) or `file` and its output."""
        return self._text(self.path(path), script, timeout_s, cap)

    def _text(self, full: str, script: str, timeout_s: float | None = None,
              cap: int = HOST_CAP) -> str | None:
        out = self._run(full, script, None, timeout_s, cap)
        kind, _, data = out.stdout_bytes.partition(b"\n")
        limit = timeout_s or self.timeout_s
        problem = {124: f"no answer within {limit:g} s"
                        + ("" if timeout_s else " (read_s)")}.get(out.rc)
        failed = Kind.TIMEOUT
        if problem is None and self.host.sudo and out.rc != 0 and kind == b"":
            # the reports send a refused sudo, like a refused login, to the host's access
            problem, failed = (f"sudo -n refused ({ssh_cause(out.stderr)[0]}): {_SUDO_HINT}",
                               Kind.REFUSED)
        elif problem is None and kind == b"missing":
            return None
        elif problem is None and kind == b"unreadable":
            blocked = data.decode(errors="replace").strip() or full
            problem, failed = (f"permission denied on {blocked} for the login user: "
                               + ("grant read access" if self.host.sudo else
                                  f"set sudo: true or grant read access ({_SUDO_HINT})"),
                               Kind.AUTH)
        elif problem is None and kind == b"not-a-file":
            problem, failed = ("not a regular file (a FIFO, a device, a directory), so not "
                               "read", Kind.OTHER)
        elif problem is None and (out.rc != 0 or kind != b"file"):
            problem, failed = f"the read failed (exit {out.rc})", Kind.OTHER
        elif problem is None and len(data) > cap:
            problem, failed = (f"larger than {cap // 2**20} MiB (the cap on this read)",
                               Kind.TOO_LARGE)
        if problem is None:
            try:
                return data.decode()
            except UnicodeDecodeError:
                problem, failed = "not UTF-8 text", Kind.PARSE
        why = f"cannot read {full} on {self.where}: {problem}"
        raise ProbeError(why, full, ProbeFailure(failed, why, full))

    def close(self) -> None:
        """End the shared SSH connection (if one was opened) and remove its socket."""
        if self._control is None:
            return
        sock = posixpath.join(self._control, "c")
        if os.path.exists(sock):
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "geopreflight"],
                           capture_output=True, timeout=10, check=False)
        shutil.rmtree(self._control, ignore_errors=True)
        self._control = None


_SUDO_HINT = "see the README, section 'Hosts over SSH'"


def _end_options(backend: Any, where: str) -> None:
    """`--` before the host in every ssh command testinfra builds (its own `"%s %s"`: host,
    command), so ssh reads the host as a host even where a target slipped past validation
    (`-oProxyCommand=...` would run a local command)."""
    from testinfra.backend.ssh import SshBackend

    if not isinstance(backend, SshBackend):
        return
    build = backend._build_ssh_command
    if build("true")[0][-1] != "%s %s":
        raise ProbeError(f"{where}: this testinfra builds its ssh command in a way geopreflight "
                         "does not know, so the host cannot be kept from being an option")

    def ended(command: str) -> tuple[list[str], list[str]]:
        cmd, args = build(command)
        return [*cmd[:-1], "-- %s %s"], args

    backend._build_ssh_command = ended


def host_files(pc: ProbeContext, site: Site) -> HostFiles:
    """The site's host (`site.host`: the node a host probe was given, else the site's
    default node), one per node and run; an error when the inventory gives none."""
    if site.host is None:
        why = f"the inventory gives no host for {site.name}, so its files cannot be read"
        raise ProbeError(why, failure=ProbeFailure(Kind.MISSING, why))
    key = ("host", site.name, site.host.label)
    with _LOCK:
        if key not in pc.cache:
            pc.cache[key] = HostFiles(site.host, pc.inventory.timeouts.read_s,
                                      pc.inventory.timeouts.connect_s)
        return pc.cache[key]


@probe("host.gitlab_version", scope="host")
def gitlab_version(pc: ProbeContext, site: Site | None) -> tuple[HostVersion, str]:
    """The installed GitLab version and whether this is a Linux package install."""
    assert site is not None
    host = host_files(pc, site)
    text = host.read(VERSION_FILE)
    manifest = next((m for m in MANIFESTS if host.read(m) is not None), None)
    return (HostVersion(text.strip() if text else None,
                        "linux-package" if manifest else "unknown", manifest),
            f"{host.target}{host.path(VERSION_FILE)}")


# --- registry, Geo and PostgreSQL settings (gitlab.rb, rendered files, lockfiles) -----------

GITLAB_RB = "/etc/gitlab/gitlab.rb"
CLUSTER_JSON = "/etc/gitlab/gitlab-cluster.json"
CONFIG_YML = "/var/opt/gitlab/registry/config.yml"
GITLAB_YML = "/var/opt/gitlab/gitlab-rails/etc/gitlab.yml"


def _gitlab_rb(host: HostFiles) -> dict[str, Any]:
    """Only the settings the checks read (an allow-list): gitlab.rb's secrets stay on the host."""
    from ..gitlab_rb import facts, parse

    text = host.read(GITLAB_RB)
    if text is None:
        return {"present": False, "values": {}, "problems": []}
    return {"present": True, **facts(parse(text))}


def _cluster_json(host: HostFiles) -> dict[str, Any]:
    import json

    text = host.read(CLUSTER_JSON)
    if text is None:
        return {"present": False}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return {"present": True, "error": f"{CLUSTER_JSON} is not JSON: {exc}"}
    if not isinstance(doc, dict):
        return {"present": True, "error": f"{CLUSTER_JSON} is not a JSON object"}
    return {"present": True, "primary": doc.get("primary"), "secondary": doc.get("secondary")}


def _config_yml(host: HostFiles) -> dict[str, Any]:
    from ..registry_config import ConfigError, summary

    text = host.read(CONFIG_YML)
    if text is None:
        return {"present": False}
    try:
        return {"present": True, **summary(text)}
    except ConfigError as exc:
        return {"present": True, "error": str(exc)}


def _gitlab_yml(host: HostFiles) -> dict[str, Any]:
    import yaml

    from ..registry_config import digest
    from ..yamlfile import loads_host

    text = host.read(GITLAB_YML)
    if text is None:
        return {"present": False}
    try:
        doc = loads_host(text)
        prod = doc.get("production", doc) if isinstance(doc, dict) else {}
        reg = prod.get("registry") or {}
        geo = prod.get("geo") or {}
    except (yaml.YAMLError, AttributeError) as exc:
        return {"present": True, "error": f"{GITLAB_YML} is not readable YAML: "
                                          f"{str(exc).splitlines()[0]}"}
    secret = reg.get("notification_secret")
    rep = geo.get("registry_replication") or {}
    return {"present": True, "registry_enabled": reg.get("enabled"),
            "notification_secret_digest": digest(secret) if secret else None,
            "geo_node_name": geo.get("node_name"),
            "registry_issuer": reg.get("issuer"), "registry_key": reg.get("key"),
            "registry_replication_enabled": rep.get("enabled"),
            "registry_replication_primary_api_url": rep.get("primary_api_url")}


def _digest_file(host: HostFiles, path: str | None) -> str | None:
    from ..registry_config import digest

    if not path:
        return None
    text = host.read(path)
    return digest(text.strip()) if text is not None else None


def _lockfiles(host: HostFiles, config: dict[str, Any]) -> dict[str, Any]:
    from ..registry_config import LOCKFILE_DIR, LOCKFILES

    if not config.get("present") or config.get("error"):
        return {"readable": False, "why": "no readable rendered config.yml says where the "
                                          "storage is"}
    if config.get("storage_backend") != "filesystem":
        return {"readable": False, "why": f"{config.get('storage_backend')} storage: the "
                                          "lockfiles live in object storage, not on the host"}
    base = posixpath.join(config["storage_root"], LOCKFILE_DIR)
    out: dict[str, Any] = {"readable": True, "dir": base}
    for name in LOCKFILES:
        out[name] = host.read(posixpath.join(base, name)) is not None
    return out


@probe("host.config", scope="host")
def host_config(pc: ProbeContext, site: Site | None) -> tuple[HostConfig, str]:
    """gitlab.rb, gitlab-cluster.json, the rendered config.yml and gitlab.yml, the digests of
    the token certificate (config.yml's rootcertbundle) and of the token-signing key Rails
    uses (gitlab.yml's registry.key), and the storage lockfiles: only what checks need,
    secrets as digests."""
    assert site is not None
    host = host_files(pc, site)
    config, gitlab_yml = _config_yml(host), _gitlab_yml(host)
    value = {"gitlab_rb": _gitlab_rb(host), "cluster_json": _cluster_json(host),
             "config_yml": config, "gitlab_yml": gitlab_yml,
             "cert_digest": _digest_file(host, config.get("rootcertbundle")),
             "signing_key_digest": _digest_file(host, (gitlab_yml.get("registry_key")
                                                       if not gitlab_yml.get("error") else None)),
             "lockfiles": _lockfiles(host, config)}
    if config.get("present") and not config.get("error"):  # a registry node: its GC schedules
        value["gc_schedules"], value["gc_unreadable"] = host.gc_schedules()
    paths = ", ".join(host.path(p) for p in (GITLAB_RB, CONFIG_YML, GITLAB_YML))
    return from_json(HostConfig, value), f"{host.target}{paths}"
