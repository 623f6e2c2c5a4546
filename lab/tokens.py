"""The registry token signing pair that every site shares (Geo copies `gitlab-registry.key`).

One RSA key and a self-signed certificate per lab. The stand-ins' `/jwt/auth` sign with it, every
registry trusts the certificate (`auth.token.rootcertbundle`), and a secondary's Geo sync signs
its own short-lived tokens with it, as GitLab Geo does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from lab.gitlab_api import issue_token

ISSUER = "omnibus-gitlab-issuer"
SERVICE = "container_registry"


def generate(key_path: Path, cert_path: Path, common_name: str = "gitlab-registry") -> None:
    """Write a new RSA-2048 private key and a self-signed certificate (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def mint(key_file: Path, cert_file: Path, access: list[dict[str, Any]],
         subject: str = "geo-sync") -> str:
    """A registry token signed with the shared key, as a Geo secondary signs its pull tokens."""
    return issue_token({"key_file": str(key_file), "cert_file": str(cert_file), "issuer": ISSUER,
                        "service": SERVICE}, subject, access)


def scope_access(scope: str) -> list[dict[str, Any]]:
    """`repository:a/b:pull,push` -> the JWT `access` claim for it."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return [{"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}]


def fingerprint(credential: str) -> str:
    """What a lab log keeps of an Authorization header (the front's, the S3 proxy's): enough
    to tell whether two logs saw the same token, not enough to use it."""
    return hashlib.sha256(credential.encode()).hexdigest()[:16]
