"""The lab's own certificate authority, for a lab that serves GitLab and the registry over
HTTPS (`tls: true` in the scenario).

One CA per lab (`keys/tls-ca.pem`) and one server certificate for 127.0.0.1 (an IP SAN) that
every stand-in and registry front presents. The lab's own clients (the daemon's proxies and
replicators, the registries' notifications) trust it through `SSL_CERT_FILE` and
`REQUESTS_CA_BUNDLE` in their environment; the checker trusts it only through the
inventory's `gitlab.ca_bundle`, as an operator's internal CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

CA_FILE = "keys/tls-ca.pem"
CERT_FILE = "keys/tls-server.pem"
KEY_FILE = "keys/tls-server.key"


def generate(lab_dir: Path) -> None:
    """Write the CA certificate and a server certificate and key for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "geopreflight lab CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (lab_dir / "keys").mkdir(parents=True, exist_ok=True)
    (lab_dir / CA_FILE).write_bytes(ca.public_bytes(pem))
    (lab_dir / CERT_FILE).write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    k = lab_dir / KEY_FILE
    k.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    k.chmod(0o600)


def server_context(lab_dir: Path) -> ssl.SSLContext:
    """The context every HTTPS listener of the lab wraps its socket with."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(lab_dir / CERT_FILE, lab_dir / KEY_FILE)
    return ctx


def client_env(lab_dir: Path) -> dict[str, str]:
    """Environment for the lab's own clients, so they trust the lab's CA (empty without
    TLS)."""
    ca = lab_dir / CA_FILE
    if not ca.exists():
        return {}
    return {"SSL_CERT_FILE": str(ca), "REQUESTS_CA_BUNDLE": str(ca)}
