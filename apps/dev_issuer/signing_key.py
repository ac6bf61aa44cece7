"""The dev issuer's RSA key: generated on first use into ``var/`` (never committed)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from jwt.algorithms import RSAAlgorithm

from config.env import create_once

_lock = threading.Lock()


def _key_path() -> Path:
    return Path(settings.VAR_DIR) / "dev-issuer" / "signing-key.pem"


@cache
def signing_key() -> rsa.RSAPrivateKey:
    """The private key, created once per checkout and kept readable by its owner only."""
    path = _key_path()
    with _lock:
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # Another process (a worker, mint_token) may be creating it too: one key wins.
            create_once(path, pem)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA private key")
    return loaded


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The public half as Entra publishes keys: kty, use, kid, x5t, n, e (and no alg)."""
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    thumbprint_input = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )  # RFC 7638 JWK thumbprint
    kid = base64.urlsafe_b64encode(hashlib.sha256(thumbprint_input.encode()).digest())
    kid_text = kid.rstrip(b"=").decode()[:27]
    return {
        "kty": "RSA",
        "use": "sig",
        "kid": kid_text,
        "x5t": kid_text,
        "n": jwk["n"],
        "e": jwk["e"],
    }
