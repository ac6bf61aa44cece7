"""The self-signed certificate `make run` serves https://localhost:8443 with."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from io import StringIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command

from apps.dev_issuer import tls


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_certificate_names_localhost_and_both_loopback_addresses(tmp_path):
    cert_path, key_path = tls.ensure_certificate(tmp_path)
    names = load(cert_path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_an_existing_certificate_is_kept(tmp_path):
    cert_path, _ = tls.ensure_certificate(tmp_path)
    first = cert_path.read_bytes()
    tls.ensure_certificate(tmp_path)
    assert cert_path.read_bytes() == first


def test_a_certificate_about_to_expire_is_renewed(tmp_path):
    cert_path, key_path = tls.ensure_certificate(tmp_path)
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    expiring = tls.self_signed(key, valid_days=tls.RENEW_DAYS - 1)
    cert_path.write_bytes(expiring.public_bytes(serialization.Encoding.PEM))
    tls.ensure_certificate(tmp_path)
    renewed = load(cert_path)
    assert renewed.serial_number != expiring.serial_number
    remaining = renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert remaining > datetime.timedelta(days=tls.VALID_DAYS - 1)


def test_the_command_writes_under_var_dev_tls(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("dev_tls", stdout=out)
    assert (tmp_path / "dev-tls" / "cert.pem").is_file()
    assert str(tmp_path / "dev-tls" / "key.pem") in out.getvalue()
