"""Signing the evidence bundle's manifest with an SSH key, and verifying who signed it.

Everything goes through OpenSSH's own `ssh-keygen -Y sign|check-novalidate|find-principals|
verify` (Debian's openssh-client), on purpose:
- geopreflight never parses a private key or implements a signature scheme itself; the key
  stays where ssh-keygen (and its passphrase prompt) can read it;
- a public key whose private half is in the ssh-agent works for free (`-f key.pub`),
  as do Ed25519, RSA, ECDSA and security keys;
- the signature is the standard SSH signature format (SSHSIG), so an auditor can check a
  bundle by hand with the same tool: `ssh-keygen -Y verify -f allowed_signers -I <who>
  -n geopreflight -s SHA256SUMS.sig < SHA256SUMS`.

The signed message is the bundle's `SHA256SUMS`, which lists the digest of every other
member; the signature is stored beside it as `SHA256SUMS.sig`, namespace `geopreflight`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .yamlfile import read_input

NAMESPACE = "geopreflight"
MANIFEST = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
SIGN_TIMEOUT_S = 120.0    # a passphrase prompt on the terminal, or an agent's confirmation
VERIFY_TIMEOUT_S = 15.0
KEY_READ_CAP = 64 * 1024
_GOOD = re.compile(r'Good "[^"]+" signature (?:for (?P<who>.+?) )?with (?P<kind>\S+) key '
                   r"(?P<fp>\S+)")


class NotVerified(Exception):  # noqa: N818 - an outcome of `verify`, not a bug
    """The bundle's signature does not verify; the message says why, in an operator's words."""


@dataclass(frozen=True)
class Signer:
    key: str                  # e.g. "ED25519 key SHA256:..."
    principal: str | None     # from allowed_signers; None when no allowed_signers was given


def _ssh_keygen(*args: str, data: bytes = b"", timeout: float = VERIFY_TIMEOUT_S
                ) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("ssh-keygen")
    if exe is None:
        raise UsageError("ssh-keygen not found: signed bundles need OpenSSH's ssh-keygen "
                         "(Debian: apt-get install openssh-client)")
    try:
        return subprocess.run([exe, *args], input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UsageError(f"ssh-keygen {' '.join(args[:2])} did not finish within "
                         f"{timeout:g} s") from None


def _said(proc: subprocess.CompletedProcess[bytes]) -> str:
    """ssh-keygen's own words (stderr, then stdout), one line."""
    text = (proc.stderr + b"\n" + proc.stdout).decode(errors="replace")
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.startswith("Signing data on standard input")]
    return "; ".join(lines[:3]) or f"exit {proc.returncode}"


def check_key(path: str) -> None:
    """Before any probing: KEY must be an SSH key ssh-keygen can sign with. A public key
    must have its private half in the ssh-agent (checked with `ssh-add -T`)."""
    head = read_input(path, "key (--sign-with)", KEY_READ_CAP)  # a FIFO would hang ssh-keygen
    proc = _ssh_keygen("-l", "-f", path)
    if proc.returncode != 0:
        raise UsageError("--sign-with: not an SSH key (expected a private key file, or a public "
                         "key whose private half is in the ssh-agent)", file=path)
    if head.lstrip().startswith(b"-----BEGIN"):
        return  # a private key file; a passphrase is asked for when signing
    add = shutil.which("ssh-add")
    if not os.environ.get("SSH_AUTH_SOCK") or add is None:
        raise UsageError("--sign-with: a public key signs only through the ssh-agent, and no "
                         "agent is reachable (SSH_AUTH_SOCK is not set)", file=path)
    try:
        test = subprocess.run([add, "-T", path], capture_output=True, timeout=SIGN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UsageError("--sign-with: the ssh-agent did not answer", file=path) from None
    if test.returncode != 0:
        raise UsageError("--sign-with: the ssh-agent does not hold this key's private half "
                         "(ssh-add it first)", file=path)


def sign(data: bytes, key: str) -> bytes:
    """An SSH signature of `data` (namespace geopreflight), armoured text."""
    proc = _ssh_keygen("-Y", "sign", "-n", NAMESPACE, "-f", key, data=data,
                       timeout=SIGN_TIMEOUT_S)
    if proc.returncode != 0 or b"BEGIN SSH SIGNATURE" not in proc.stdout:
        raise UsageError(f"--sign-with: ssh-keygen could not sign: {_said(proc)}", file=key)
    return proc.stdout


def check_allowed_signers(path: str) -> None:
    """Before any probing: the allowed_signers file must be a readable regular file (a FIFO
    or a device would hang ssh-keygen)."""
    read_input(path, "allowed signers file (--allowed-signers)")


def verify(files: Mapping[str, bytes], allowed_signers: str | None) -> Signer:
    """Who signed a bundle's manifest. Without allowed_signers only the signature itself is
    checked (any key verifies); with it, the key must belong to a listed principal, within the
    validity and namespaces allowed_signers gives it. Raises NotVerified."""
    manifest, signature = files.get(MANIFEST), files.get(SIGNATURE)
    if manifest is None:
        raise NotVerified(f"the bundle has no {MANIFEST} manifest")
    if signature is None:
        raise NotVerified(f"the bundle is not signed (no {SIGNATURE}; sign it with "
                          "--sign-with=KEY when the bundle is written)")
    with tempfile.TemporaryDirectory(prefix="geopreflight-sig-") as tmp:
        sig = Path(tmp) / SIGNATURE
        sig.write_bytes(signature)
        proc = _ssh_keygen("-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig),
                           data=manifest)
        good = _GOOD.search(proc.stdout.decode(errors="replace"))
        if proc.returncode != 0 or good is None:
            raise NotVerified(f"the signature does not match {MANIFEST}: the manifest was "
                              "changed after it was signed, or the signature is not a "
                              f"geopreflight one ({_said(proc)})")
        key = f"{good['kind']} key {good['fp']}"
        if allowed_signers is None:
            return Signer(key, None)
        found = _ssh_keygen("-Y", "find-principals", "-s", str(sig), "-f", allowed_signers)
        principals = found.stdout.decode(errors="replace").split()
        if found.returncode != 0 or not principals:
            raise NotVerified(f"signed by {key}, which is not in {allowed_signers} (another "
                              f"signer?): {_said(found)}")
        proc = _ssh_keygen("-Y", "verify", "-f", allowed_signers, "-I", principals[0], "-n",
                           NAMESPACE, "-s", str(sig), data=manifest)
        if proc.returncode != 0:
            raise NotVerified(f"signed by {key} ({principals[0]}), but {allowed_signers} does "
                              f"not allow it for geopreflight: {_said(proc)}")
        return Signer(key, principals[0])


def check_options(sign_with: str | None, allowed_signers: str | None, evidence: bool,
                  bundle: Any) -> None:
    """Before any probing: `--sign-with` needs `--evidence` and a usable key;
    `--allowed-signers` needs `--from-evidence`, whose bundle must then verify (exit 4)."""
    if sign_with:
        if not evidence:
            raise UsageError("--sign-with signs the evidence bundle: add --evidence")
        check_key(sign_with)
    if allowed_signers:
        if bundle is None:
            raise UsageError("--allowed-signers checks who signed a bundle: use it with "
                             "--from-evidence=BUNDLE, or run geopreflight verify BUNDLE "
                             "--allowed-signers=FILE")
        check_allowed_signers(allowed_signers)
        try:
            verify(bundle.files, allowed_signers)
        except NotVerified as exc:
            raise UsageError(f"refusing to judge the bundle: {exc}", file=bundle.path) from None
