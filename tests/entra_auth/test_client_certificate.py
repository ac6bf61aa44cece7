"""ENTRA_CLIENT_CERTIFICATE_FILE: a PEM key + certificate becomes msal's signed client
assertion, its thumbprint computed from the certificate; bad files are errors that say why."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.dev_issuer.tls import self_signed
from apps.entra_auth.client_credentials import (
    AssertionFile,
    ClientCredentialsError,
    certificate_credential,
    client_credential,
    confidential_client,
)

AUTHORITY = "https://login.example.test/11111111-2222-4333-8444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    return self_signed(key)  # the dev TLS certificate's builder; any key type signs


def _pem(key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> bytes:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private + certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def pem_file(tmp_path: Path) -> tuple[Path, x509.Certificate]:
    key = _key()
    certificate = _certificate(key)
    path = tmp_path / "client.pem"
    path.write_bytes(_pem(key, certificate))
    return path, certificate


class RecordingAuthority:
    """msal's http_client interface: discovery, and a token endpoint recording each form."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []

    def get(self, url: str, **_: Any) -> Any:
        body = {
            "issuer": f"{AUTHORITY}/v2.0",
            "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
            "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
        }
        return _Response(json.dumps(body))

    def post(self, url: str, data: Any = None, **_: Any) -> Any:
        form = data if isinstance(data, dict) else {k: v[0] for k, v in parse_qs(data).items()}
        self.forms.append(form)
        return _Response(
            json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": "t"})
        )


class _Response:
    status_code = 200
    headers: dict[str, str] = {}

    def __init__(self, text: str) -> None:
        self.text = text

    def raise_for_status(self) -> None:
        return None


def test_msal_signs_a_client_assertion_with_the_certificates_key_and_thumbprint(pem_file):
    path, certificate = pem_file
    authority = RecordingAuthority()
    app = confidential_client(
        authority=AUTHORITY,
        client_id=CLIENT_ID,
        credential=certificate_credential(str(path)),
        http_client=authority,
    )
    assert app.acquire_token_for_client(scopes=["api://x/.default"])["access_token"] == "t"

    (form,) = authority.forms
    assert "client_secret" not in form
    assertion = form["client_assertion"]
    header = jwt.get_unverified_header(assertion)
    thumbprint = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).rstrip(b"=")
    assert header["x5t#S256"].rstrip("=") == thumbprint.decode()  # msal keeps the padding
    claims = jwt.decode(
        assertion,
        certificate.public_key(),
        algorithms=[header["alg"]],
        audience=f"{AUTHORITY}/oauth2/v2.0/token",
    )
    assert claims["iss"] == claims["sub"] == CLIENT_ID


def test_a_file_without_a_certificate_is_refused(tmp_path):
    path = tmp_path / "key-only.pem"
    key = _key()
    path.write_bytes(_pem(key, _certificate(key)).split(b"-----BEGIN CERTIFICATE")[0])
    with pytest.raises(ClientCredentialsError, match="CERTIFICATE_FILE must be a PEM file"):
        certificate_credential(str(path))


def test_a_certificate_of_another_key_is_refused(tmp_path):
    path = tmp_path / "mismatch.pem"
    path.write_bytes(_pem(_key(), _certificate(_key())))
    with pytest.raises(ClientCredentialsError, match="not the private key's"):
        certificate_credential(str(path))


def test_a_missing_file_is_refused_without_a_traceback(tmp_path):
    with pytest.raises(ClientCredentialsError, match="FileNotFoundError"):
        certificate_credential(str(tmp_path / "absent.pem"))


def test_the_preference_is_assertion_then_certificate_then_secret(pem_file):
    path = str(pem_file[0])
    both = client_credential(client_secret="s", assertion_file="/a", certificate_file=path)
    assert isinstance(both["client_assertion"], AssertionFile)
    certificate = client_credential(client_secret="s", assertion_file="", certificate_file=path)
    assert set(certificate) == {"private_key", "public_certificate"}
    assert client_credential(client_secret="s", assertion_file="", certificate_file="") == "s"
    with pytest.raises(ClientCredentialsError, match="ENTRA_CLIENT_CERTIFICATE_FILE"):
        client_credential(client_secret="", assertion_file="", certificate_file="")
