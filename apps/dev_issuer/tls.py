"""A self-signed certificate for https://localhost, because MSAL.js refuses http authorities.

Generated on first use into ``var/dev-tls/`` (ignored by git), valid for ``localhost``,
``127.0.0.1`` and ``::1``, and renewed when it is about to expire. Browsers still warn: it
is trusted by nobody, on purpose (docs/decisions.md, "Local HTTPS").
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from config.env import create_once

VALID_DAYS = 90
RENEW_DAYS = 7
CERT_NAME, KEY_NAME = "cert.pem", "key.pem"


def _needs_renewal(cert_path: Path) -> bool:
    if not cert_path.exists():
        return True
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return remaining < datetime.timedelta(days=RENEW_DAYS)


def self_signed(
    key: ec.EllipticCurvePrivateKey, *, valid_days: int = VALID_DAYS
) -> x509.Certificate:
    """A leaf certificate for the loopback names, signed by its own key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost (Portico dev)")])
    now = datetime.datetime.now(datetime.UTC)
    names = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )


def ensure_certificate(directory: Path) -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` under ``directory``, created or renewed when needed."""
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if _needs_renewal(cert_path):
        key = ec.generate_private_key(ec.SECP256R1())
        pem_key = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert_path.unlink(missing_ok=True)
        key_path.unlink(missing_ok=True)
        # The key first: a reader that finds the certificate always finds its key.
        create_once(key_path, pem_key)
        create_once(cert_path, self_signed(key).public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
