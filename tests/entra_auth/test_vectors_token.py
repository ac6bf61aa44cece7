"""Attack vectors 15-33 and 38-44 (entra-token-spec §14 B, C) and PyJWT's pitfalls (§7.3).

The token's structure, encoding, algorithm and header: each row is refused with 401
``invalid_token`` and the reason named in ``apps/entra_auth/exceptions.py``, the view never
runs, and nothing the token names (``jku``, ``x5u``, ``kid``) is ever fetched. Row ids carry
the spec's vector number. The last tests throw garbage and mutations at the endpoint: every
answer is a 400 or a 401, never a 500.
"""

from __future__ import annotations

import base64
import datetime
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.entra_auth import runtime
from apps.entra_auth.exceptions import InvalidToken
from tests import urls as spy
from tests.conftest import (
    DROP,
    SpyServer,
    TestKey,
    assert_bad_request,
    assert_token_refused,
    b64url,
    bearer,
)

pytestmark = pytest.mark.django_db

SPY = "/api/spy"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
B64URL_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


@pytest.fixture(scope="module")
def attacker_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _self_signed_certificate_b64(key: TestKey) -> str:
    """What an Entra JWK's ``x5c[0]`` holds: the base64 DER of a certificate for the key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _jws(
    header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, key: Any, alg: str
) -> str:
    """A compact JWS signed by any algorithm PyJWT knows, with any key or HMAC secret."""

    def segment(part: dict[str, Any] | bytes) -> str:
        return b64url(part if isinstance(part, bytes) else json.dumps(part).encode())

    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = jwt.get_algorithm_by_name(alg).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64url(signature)}"


@dataclass
class Kit:
    """What a row needs to build its token: a valid token, its claims, the keys, a spy URL."""

    valid: str
    claims: dict[str, Any]
    keys: dict[str, TestKey]
    ec_key: ec.EllipticCurvePrivateKey
    spy_url: str

    @property
    def segments(self) -> list[str]:
        return self.valid.split(".")

    def sign(
        self,
        header: dict[str, Any] | bytes | None = None,
        claims: dict[str, Any] | bytes | None = None,
        key: str = "k1",
        alg: str = "RS256",
    ) -> str:
        """Signs ``header`` (default: K1's RS256 header) over ``claims`` (default: valid)."""
        header = {"typ": "JWT", "alg": "RS256", "kid": "k1"} if header is None else header
        return _jws(header, self.claims if claims is None else claims, self.keys[key].private, alg)

    def with_header(self, key: str = "k1", sign_alg: str = "RS256", **changes: Any) -> str:
        """The valid claims signed by ``key`` with ``sign_alg``, under a header saying so
        unless ``changes`` say otherwise (``DROP`` removes a parameter)."""
        header = {"typ": "JWT", "alg": sign_alg, "kid": key}
        header.update(changes)
        for name in [name for name, value in header.items() if value is DROP]:
            del header[name]
        return self.sign(header, key=key, alg=sign_alg)

    def hs256(self, secret: bytes) -> str:
        return _jws({"typ": "JWT", "alg": "HS256", "kid": "k1"}, self.claims, secret, "HS256")


@pytest.fixture
def kit(token_factory, keys, attacker_ec_key, spy_server, spy_urls) -> Kit:
    valid = token_factory()
    claims = json.loads(base64.urlsafe_b64decode(valid.split(".")[1] + "=="))
    return Kit(valid, claims, keys, attacker_ec_key, spy_server.url)


def _public_pem(kit: Kit, form: serialization.PublicFormat) -> bytes:
    return kit.keys["k1"].private.public_key().public_bytes(serialization.Encoding.PEM, form)


def _modulus(kit: Kit) -> bytes:
    return kit.keys["k1"].private.public_key().public_numbers().n.to_bytes(256, "big")


Row = Callable[[Kit], str]


def _refused_before_any_key_fetch(client, entra, spy_server: SpyServer, token: str, reason: str):
    response = client.get(SPY, **bearer(token))
    assert_token_refused(response, reason)
    assert entra.jwks_fetches() == 0
    assert spy_server.requests == []


# --- B. structure and encoding ------------------------------------------------------------
STRUCTURE: dict[str, Row] = {
    "v15-two-segments": lambda k: ".".join(k.segments[:2]),
    "v15-one-segment": lambda k: k.segments[1],
    "v16-four-segments": lambda k: f"{k.valid}.AAAA",
    "v17-five-segments-jwe-shape": lambda k: "a.b.c.d.e",
    "v17-real-five-segments": lambda k: f"{k.valid}.{k.segments[2]}.{k.segments[2]}",
    "v18-tilde-in-header": lambda k: f"eyJhb~~Gci.{k.segments[1]}.{k.segments[2]}",
    "v18-standard-base64-alphabet": lambda k: (
        f"{k.segments[0][:-2]}+/.{k.segments[1]}.{k.segments[2]}"
    ),
    "v18-segment-of-length-one": lambda k: f"A.{k.segments[1]}.{k.segments[2]}",
    "v18-non-canonical-last-character": lambda k: k.valid[:-1] + _sibling(k.valid[-1]),
    "v19-header-not-json": lambda k: _with_header_bytes(k, b"not json"),
    "v20-header-json-array": lambda k: _with_header_bytes(k, b"[1]"),
    "v20-header-json-string": lambda k: _with_header_bytes(k, b'"RS256"'),
    "v20-header-json-null": lambda k: _with_header_bytes(k, b"null"),
    "v20-header-nan": lambda k: k.sign(b'{"alg":"RS256","kid":"k1","x":NaN}'),
    "v20-header-infinity": lambda k: k.sign(b'{"alg":"RS256","kid":"k1","x":-Infinity}'),
    "v20-header-trailing-garbage": lambda k: k.sign(b'{"alg":"RS256","kid":"k1"}x'),
    "v20-header-utf8-bom": lambda k: k.sign(b'\xef\xbb\xbf{"alg":"RS256","kid":"k1"}'),
    "v22-payload-not-json-but-signed": lambda k: k.sign(claims=b"xx"),
    "v23-payload-json-array-signed": lambda k: k.sign(claims=b"[]"),
    "v23-payload-json-number-signed": lambda k: k.sign(claims=b"1"),
    "v23-payload-nan-signed": lambda k: k.sign(claims=b'{"exp":NaN}'),
    "v24-empty-signature": lambda k: f"{k.segments[0]}.{k.segments[1]}.",
    "v24-empty-header": lambda k: f".{k.segments[1]}.{k.segments[2]}",
    "v25-padded-signature": lambda k: k.valid + "=" * (-len(k.segments[2]) % 4 or 2),
    "v26-invalid-utf8-header": lambda k: k.sign(b'{"alg":"RS256","kid":"\xff"}'),
    "v26-utf8-encoded-surrogate-header": lambda k: k.sign(b'{"alg":"RS256","kid":"\xed\xa0\x80"}'),
    "v26-invalid-utf8-payload-signed": lambda k: k.sign(claims=b'{"sub":"\xff"}'),
    "pitfall-deep-nesting-header": lambda k: _with_header_bytes(k, b"[" * 1100),
    "pitfall-deep-nesting-object-header": lambda k: _with_header_bytes(k, b'{"a":' * 1100),
    "pitfall-deep-nesting-payload-signed": lambda k: k.sign(claims=b"[" * 1100),
    "pitfall-int-beyond-4300-digits": lambda k: k.sign(claims=b'{"exp":' + b"9" * 5000 + b"}"),
}


def _sibling(char: str) -> str:
    """The base64url character differing in the lowest bit only: a 2048-bit RSA signature
    (342 characters) leaves the last 4 bits spare, so both spell the same bytes."""
    return B64URL_ALPHABET[B64URL_ALPHABET.index(char) ^ 1]


def _with_header_bytes(kit: Kit, header: bytes) -> str:
    return f"{b64url(header)}.{kit.segments[1]}.{kit.segments[2]}"


@pytest.mark.parametrize("build", STRUCTURE.values(), ids=STRUCTURE.keys())
def test_malformed_token_is_refused_before_fetching_keys(client, entra, spy_server, kit, build):
    _refused_before_any_key_fetch(client, entra, spy_server, build(kit), "malformed")


def test_characters_outside_b64token_are_a_bad_request_not_a_token_error(client, kit):
    """Vector 18's ``!!!``: the header grammar (§12 step 2) refuses it before the token."""
    response = client.get(SPY, **bearer(f"eyJhb!!Gci.{kit.segments[1]}.{kit.segments[2]}"))
    assert_bad_request(response, "syntax")


def test_padding_inside_the_token_is_a_bad_request(client, kit):
    """Vector 25 with every segment padded: ``=`` may only end a b64token (RFC 6750 §2.1)."""
    padded = ".".join(s + "=" * (-len(s) % 4) for s in kit.segments)
    assert "=." in padded
    assert_bad_request(client.get(SPY, **bearer(padded)), "syntax")


@pytest.mark.parametrize("garbage", ["!!!.e30.AAAA", "a\ud800.b.c", "é.b.c", "a.b.c\n"])
def test_validator_refuses_characters_outside_base64url_itself(entra, garbage):
    """The pure validator does not rely on the HTTP edge for its charset check."""
    with pytest.raises(InvalidToken, match="malformed"):
        runtime.token_validator().validate(garbage)


# --- C. algorithm attacks -----------------------------------------------------------------
ALGORITHM: dict[str, Row] = {
    "v27-alg-none-with-signature": lambda k: _with_signature(k, {"alg": "none"}),
    "v27-alg-None-with-signature": lambda k: _with_signature(k, {"alg": "None", "kid": "k1"}),
    "v27-alg-NONE-with-signature": lambda k: _with_signature(k, {"alg": "NONE", "kid": "k1"}),
    "v27-alg-empty-with-signature": lambda k: _with_signature(k, {"alg": "", "kid": "k1"}),
    "v27-alg-null-with-signature": lambda k: _with_signature(k, {"alg": None, "kid": "k1"}),
    "v28-hs256-spki-pem": lambda k: k.hs256(
        _public_pem(k, serialization.PublicFormat.SubjectPublicKeyInfo)
    ),
    "v28-hs256-pkcs1-pem": lambda k: k.hs256(_public_pem(k, serialization.PublicFormat.PKCS1)),
    "v28-hs256-x5c-certificate": lambda k: k.hs256(
        _self_signed_certificate_b64(k.keys["k1"]).encode()
    ),
    "v28-hs256-jwk-json": lambda k: k.hs256(json.dumps(k.keys["k1"].jwk()).encode()),
    "v28-hs256-raw-modulus": lambda k: k.hs256(_modulus(k)),
    "v28-hs512-spki-pem": lambda k: _jws(
        {"alg": "HS512", "kid": "k1"},
        k.claims,
        _public_pem(k, serialization.PublicFormat.SubjectPublicKeyInfo),
        "HS512",
    ),
    "v29-rs384-same-key": lambda k: k.with_header(sign_alg="RS384"),
    "v29-rs512-same-key": lambda k: k.with_header(sign_alg="RS512"),
    "v29-ps256-same-key": lambda k: k.with_header(sign_alg="PS256"),
    "v29-ps512-same-key": lambda k: k.with_header(sign_alg="PS512"),
    "v29-rs256-lower-case": lambda k: _with_signature(
        k, {"typ": "JWT", "alg": "rs256", "kid": "k1"}
    ),
    "v30-es256-attacker-key-known-kid": lambda k: _jws(
        {"typ": "JWT", "alg": "ES256", "kid": "k1"}, k.claims, k.ec_key, "ES256"
    ),
    "v31-alg-missing": lambda k: k.with_header(alg=DROP),
    "v31-alg-list": lambda k: k.sign({"alg": ["RS256"], "kid": "k1"}),
}


def _with_signature(kit: Kit, header: dict[str, Any]) -> str:
    """``header`` over the valid payload, keeping the valid token's (now unrelated) signature."""
    return f"{b64url(json.dumps(header).encode())}.{kit.segments[1]}.{kit.segments[2]}"


@pytest.mark.parametrize("build", ALGORITHM.values(), ids=ALGORITHM.keys())
def test_algorithm_other_than_rs256_is_refused_without_fetching_keys(
    client, entra, spy_server, kit, build
):
    _refused_before_any_key_fetch(client, entra, spy_server, build(kit), "bad_algorithm")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_alg_none_with_an_empty_signature_is_refused_without_fetching_keys(
    client, entra, spy_server, kit, alg
):
    """Vector 27 as written: the empty third segment already fails the compact shape."""
    token = f"{b64url(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{kit.segments[1]}."
    _refused_before_any_key_fetch(client, entra, spy_server, token, "malformed")


# --- C. key id --------------------------------------------------------------------------------
KID: dict[str, tuple[Row, str]] = {
    "v32-kid-missing": (lambda k: k.with_header(kid=DROP), "missing_kid"),
    "v32-kid-null": (lambda k: k.with_header(kid=None), "missing_kid"),
    "v33-kid-integer": (lambda k: k.with_header(kid=5), "malformed"),
    "v33-kid-object": (lambda k: k.with_header(kid={"a": 1}), "malformed"),
    "v33-kid-list": (lambda k: k.with_header(kid=["k1"]), "malformed"),
    "v33-kid-true": (lambda k: k.with_header(kid=True), "malformed"),
    "v33-kid-empty": (lambda k: k.with_header(kid=""), "malformed"),
    "v33-kid-129-characters": (lambda k: k.with_header(kid="k" * 129), "malformed"),
}


@pytest.mark.parametrize(("build", "reason"), KID.values(), ids=KID.keys())
def test_missing_or_non_string_kid_is_refused_without_fetching_keys(
    client, entra, spy_server, kit, build, reason
):
    _refused_before_any_key_fetch(client, entra, spy_server, build(kit), reason)


@pytest.mark.parametrize(
    "kid",
    [
        pytest.param("../../../../etc/passwd", id="v43-path-traversal"),
        pytest.param("' OR 1=1 --", id="v43-sql"),
        pytest.param("http://evil/x", id="v43-url"),
        pytest.param("k1\x00", id="v43-nul"),
        pytest.param("\ud800", id="v43-lone-surrogate"),
        pytest.param("K1", id="v43-other-case"),
    ],
)
def test_kid_injection_string_is_only_a_lookup_key(
    client, entra, spy_server, kit, django_assert_num_queries, kid
):
    token = kit.sign({"typ": "JWT", "alg": "RS256", "kid": kid})
    with django_assert_num_queries(0):
        response = client.get(SPY, **bearer(token))
    assert_token_refused(response, "unknown_key")
    assert entra.jwks_fetches() <= 1  # the initial key load; the unknown-kid refresh is gated
    assert all(path.endswith(("openid-configuration", "/keys")) for path in entra.fetches)
    assert spy_server.requests == []


# --- C. headers Entra never sends --------------------------------------------------------------
FORBIDDEN: dict[str, Row] = {
    "v38-jku-attacker-jwks": lambda k: k.with_header(
        key="attacker", kid="evil", jku=f"{k.spy_url}/jwks.json"
    ),
    "v38-jku-known-kid": lambda k: k.with_header(
        key="attacker", kid="k1", jku=f"{k.spy_url}/jwks.json"
    ),
    "v39-jwk-embedded-attacker-key": lambda k: k.with_header(
        key="attacker", kid="k1", jwk=k.keys["attacker"].jwk()
    ),
    "v40-x5u": lambda k: k.with_header(key="attacker", kid="evil", x5u=f"{k.spy_url}/cert.pem"),
    "v40-x5c": lambda k: k.with_header(
        key="attacker", kid="k1", x5c=[_self_signed_certificate_b64(k.keys["attacker"])]
    ),
    "v41-valid-k1-signature-with-jku": lambda k: k.with_header(jku=f"{k.spy_url}/jwks.json"),
    "v41-valid-k1-signature-with-null-jku": lambda k: k.with_header(jku=None),
    "v42-crit-exp": lambda k: k.with_header(crit=["exp"], exp=1),
    "v42-crit-empty": lambda k: k.with_header(crit=[]),
    "v42-crit-string": lambda k: k.with_header(crit="x"),
    "v42-crit-b64-false": lambda k: k.with_header(crit=["b64"], b64=False),
}


@pytest.mark.parametrize("build", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_header_entra_never_sends_is_refused_and_never_dereferenced(
    client, entra, spy_server, kit, build
):
    _refused_before_any_key_fetch(client, entra, spy_server, build(kit), "forbidden_header")


def test_headers_entra_does_send_are_accepted(client, kit):
    """The control for vectors 38-42: a v1-style header (``x5t``) and no ``typ`` are fine."""
    for token in (kit.with_header(x5t="k1"), kit.with_header(typ=DROP)):
        assert client.get(SPY, **bearer(token)).status_code == HTTPStatus.OK
    assert spy.CALLS == ["scope", "scope"]


def test_graph_token_with_nonce_header_is_refused_as_for_another_resource(
    client, entra, spy_server, kit
):
    claims = {**kit.claims, "aud": GRAPH_APP_ID, "scp": "User.Read openid profile"}
    header = {"typ": "JWT", "nonce": "ZmFrZS1ub25jZQ", "alg": "RS256", "kid": "k1"}
    token = kit.sign(header, claims)
    _refused_before_any_key_fetch(client, entra, spy_server, token, "other_resource")  # v44


def test_nonce_header_is_refused_even_for_our_audience(client, entra, spy_server, kit):
    token = kit.with_header(nonce="ZmFrZS1ub25jZQ")
    _refused_before_any_key_fetch(client, entra, spy_server, token, "other_resource")


# --- §7.3 PyJWT pitfalls on time claims: typed strictly, never a 500 ------------------------
PITFALLS: dict[str, tuple[bytes | dict[str, Any], str]] = {
    "exp-list": ({"exp": [1]}, "bad_claim_type"),
    "exp-dict": ({"exp": {}}, "bad_claim_type"),
    "iat-dict": ({"iat": {}}, "bad_claim_type"),
    "exp-string": ({"exp": "9999999999"}, "bad_claim_type"),
    "exp-float": ({"exp": 1795337000.5}, "bad_claim_type"),
    "exp-float-integral": ({"exp": 1795337000.0}, "bad_claim_type"),
    "exp-true": ({"exp": True}, "bad_claim_type"),
    "nbf-false": ({"nbf": False}, "bad_claim_type"),
    "exp-1e400": (b"1e400", "bad_claim_type"),
    "exp-huge-integer": (b"1" + b"0" * 400, "lifetime_too_long"),
    "exp-nan": (b"NaN", "malformed"),
    "exp-infinity": (b"Infinity", "malformed"),
    "exp-negative": ({"exp": -1}, "expired"),
}


@pytest.mark.parametrize(("change", "reason"), PITFALLS.values(), ids=PITFALLS.keys())
def test_hostile_time_claim_is_refused_not_a_server_error(client, entra, kit, change, reason):
    if isinstance(change, bytes):  # a JSON literal that json.dumps would not write
        body = json.dumps({**kit.claims, "exp": 0}).encode()
        token = kit.sign(claims=body.replace(b'"exp": 0', b'"exp": ' + change))
    else:
        token = kit.sign(claims={**kit.claims, **change})
    assert_token_refused(client.get(SPY, **bearer(token)), reason)


# --- never a 500 ---------------------------------------------------------------------------------
def _mutations(valid: str, rng: random.Random) -> list[str]:
    """Bit flips, truncations, random segments and splices of ``valid``."""
    tokens = []
    for index in rng.sample(range(len(valid)), k=min(250, len(valid))):
        if valid[index] != ".":
            replacement = rng.choice(B64URL_ALPHABET.replace(valid[index], ""))
            tokens.append(valid[:index] + replacement + valid[index + 1 :])
    tokens += [valid[:end] for end in range(1, len(valid), 5)]
    tokens += [valid[start:] for start in range(1, 200, 7)]

    def segment() -> str:
        return b64url(rng.randbytes(rng.randrange(0, 120)))

    tokens += [".".join(segment() for _ in range(rng.choice((2, 3, 3, 4)))) for _ in range(80)]
    header, payload, signature = valid.split(".")
    tokens += [f"{segment()}.{payload}.{signature}" for _ in range(30)]
    tokens += [f"{header}.{segment()}.{signature}" for _ in range(30)]
    tokens += [f"{header}.{payload}.{segment()}" for _ in range(30)]
    tokens += [f"{b64url(json.dumps(rng.random()).encode())}.{payload}.{signature}"]
    return tokens


def _garbage(rng: random.Random) -> list[str]:
    """Printable ASCII strings that are Bearer-syntactically anything."""
    alphabet = string.ascii_letters + string.digits + "-._~+/="
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 300))) for _ in range(80)]


def test_random_garbage_and_mutated_tokens_never_cause_a_server_error(client, entra, kit):
    rng = random.Random(6750)  # reproducible fuzzing
    client.raise_request_exception = False  # collect every 500 instead of stopping at one
    statuses = {}
    for token in [*_mutations(kit.valid, rng), *_garbage(rng)]:
        response = client.get(SPY, **bearer(token))
        statuses[token] = response.status_code
    allowed = {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED}
    unexpected = {t: s for t, s in statuses.items() if s not in allowed}
    assert unexpected == {}
    assert spy.CALLS == []
    assert HTTPStatus.UNAUTHORIZED in statuses.values()


def test_validator_raises_only_invalid_token_on_any_string(entra, kit):
    """The pure layer's contract: hostile input of any kind ends as InvalidToken."""
    rng = random.Random(7519)  # reproducible fuzzing
    validator = runtime.token_validator()
    inputs = _mutations(kit.valid, rng) + _garbage(rng)
    inputs += ["".join(chr(rng.randrange(0, 0x110000)) for _ in range(40)) for _ in range(100)]
    inputs += [kit.valid.replace(".", "\x00", 1), "", ".", "..", "...", " " * 10]
    unexpected = []
    for token in inputs:
        try:
            validator.validate(token)
        except InvalidToken:
            continue
        except Exception as exc:
            unexpected.append((token[:60], repr(exc)))
        else:
            unexpected.append((token[:60], "accepted"))
    assert unexpected == []


def test_tampered_payload_with_k1_header_fails_the_signature(client, entra, kit):
    claims = {**kit.claims, "scp": "access_as_user admin"}
    token = f"{kit.segments[0]}.{b64url(json.dumps(claims).encode())}.{kit.segments[2]}"
    assert_token_refused(client.get(SPY, **bearer(token)), "bad_signature")
    assert entra.jwks_fetches() == 1


def test_attacker_key_with_k1_kid_fails_the_signature(client, entra, kit):
    token = kit.with_header(key="attacker", kid="k1")
    assert_token_refused(client.get(SPY, **bearer(token)), "bad_signature")
