"""Signing Security Event Tokens in tests, and Google's RISC documents on ``responses``."""

from __future__ import annotations

import functools
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from google_connect.conf import get_settings
from google_connect.risc.actions import (  # noqa: F401  (the tests import them from here)
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    CREDENTIAL_CHANGE_REQUIRED,
    SESSIONS_REVOKED,
    TOKEN_REVOKED,
    TOKENS_REVOKED,
    VERIFICATION,
)
from google_connect.risc.models import SECEVENT  # noqa: F401

ISSUER = "https://accounts.google.com/"
JWKS_URI = "https://www.googleapis.com/oauth2/v3/certs"
KID = "test-key-1"

_jti = itertools.count(1)


@functools.cache
def rsa_key(name: str = "google") -> rsa.RSAPrivateKey:
    """One 2048-bit key per name and test run (generating one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def iss_sub(sub: str) -> dict[str, str]:
    return {"subject_type": "iss-sub", "iss": ISSUER, "sub": sub}


def claims(event_type: str = TOKENS_REVOKED, event: dict[str, Any] | None = None, **overrides):
    """A Security Event Token's claims as Google sends them; ``None`` drops a claim."""
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": get_settings().CLIENT_ID,
        "iat": int(time.time()),
        "jti": f"jti-{next(_jti)}",
        "events": {event_type: {"subject": iss_sub("sub-1")} if event is None else event},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def sign(payload: dict[str, Any], *, key: Any = None, kid: str | None = KID, **headers) -> bytes:
    header = {"typ": "secevent+jwt", **({"kid": kid} if kid is not None else {}), **headers}
    algorithm = header.pop("alg", "RS256")
    token = jwt.encode(payload, key or rsa_key(), algorithm=algorithm, headers=header)
    return token.encode()


@dataclass
class FakeRisc:
    """Google's RISC discovery document and key set, served by ``responses``."""

    mock: responses.RequestsMock

    def __post_init__(self) -> None:
        self.discovery_mock = self.discovery()
        self.jwks_mock = self.jwks()

    def discovery(self, issuer: str = ISSUER, **kwargs: Any):
        body = {"issuer": issuer, "jwks_uri": JWKS_URI, "delivery_methods_supported": []}
        return self.mock.get(get_settings().RISC_CONFIG_URL, json=body, **kwargs)

    def jwks(self, *keys: tuple[str, Any], **kwargs: Any):
        keys = keys or ((KID, rsa_key()),)
        body = {"keys": [public_jwk(key, kid) for kid, key in keys]}
        return self.mock.get(JWKS_URI, json=body, **kwargs)

    def replace_jwks(self, *keys: tuple[str, Any], **kwargs: Any):
        self.mock.remove(responses.GET, JWKS_URI)
        self.jwks_mock = self.jwks(*keys, **kwargs)
        return self.jwks_mock

    def post(self, client, body: bytes, content_type: str = "application/secevent+jwt"):
        return client.post("/google/risc/events", body, content_type=content_type)
