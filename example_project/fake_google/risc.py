"""Cross-Account Protection in the stand-in: its signing key, its RISC discovery
document and key set, and the security event it pushes when a grant is removed.

Google's shapes throughout: the discovery document at
``/.well-known/risc-configuration`` names the issuer and ``jwks_uri``; events
are RS256-signed Security Event Tokens POSTed to the receiver as
``application/secevent+jwt``. ``push_tokens_revoked()`` is independent of the
page that calls it, so any "Remove access" button can use it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views import View

from .conf import client_with_id
from .identities import IDENTITIES
from .models import Grant, SigningKey

logger = logging.getLogger("fake_google")

TOKENS_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"
PUSH_TIMEOUT = 10
# Google serves its documents with a max-age; the receiver keeps them that long.
CACHE_CONTROL = "public, max-age=300"


def issuer() -> str:
    """The stand-in's RISC issuer (``FAKE_GOOGLE["RISC_ISSUER"]``)."""
    return str(settings.FAKE_GOOGLE["RISC_ISSUER"])


def signing_key() -> tuple[str, rsa.RSAPrivateKey]:
    """The stand-in's key id and private key, made on first use."""
    row = SigningKey.objects.order_by("pk").first()
    if row is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        try:
            row = SigningKey.objects.create(kid=secrets.token_hex(8), private_key_pem=pem)
        except IntegrityError:  # pragma: no cover - another process made one first
            row = SigningKey.objects.order_by("pk").first()
    assert row is not None
    key = serialization.load_pem_private_key(row.private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return row.kid, key


class RiscConfigurationView(View):
    """``/.well-known/risc-configuration``: where the keys are, and who signs."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        body = {
            "issuer": issuer(),
            "jwks_uri": request.build_absolute_uri(reverse("fake_google:risc_jwks")),
            "delivery_methods_supported": [
                "https://schemas.openid.net/secevent/risc/delivery-method/push"
            ],
        }
        return cached(JsonResponse(body))


class JwksView(View):
    """The public half of the signing key, as a JWK set."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        kid, key = signing_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return cached(JsonResponse({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}))


def cached(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = CACHE_CONTROL
    return response


def tokens_revoked_token(grant: Grant) -> str:
    """The Security Event Token saying every token of ``grant`` is revoked."""
    kid, key = signing_key()
    payload: dict[str, Any] = {
        "iss": issuer(),
        "aud": grant.client_id,
        "iat": int(time.time()),
        "jti": secrets.token_urlsafe(16),
        "events": {
            TOKENS_REVOKED: {
                "subject": {
                    "subject_type": "iss-sub",
                    "iss": issuer(),
                    "sub": IDENTITIES[grant.identity].sub,
                },
                "reason": "user-revoked",
            }
        },
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid, "typ": "secevent+jwt"})


def push_tokens_revoked(grant: Grant) -> int | None:
    """Push a ``tokens-revoked`` event for ``grant`` to the client's receiver.

    Returns the receiver's status code, or None when there is no receiver or
    it could not be reached (logged; Google would retry later).
    """
    receiver = settings.FAKE_GOOGLE.get("RISC_RECEIVER_URL")
    if not receiver or client_with_id(grant.client_id) is None:
        return None
    try:
        response = requests.post(
            receiver,
            data=tokens_revoked_token(grant),
            headers={"Content-Type": "application/secevent+jwt"},
            timeout=PUSH_TIMEOUT,
        )
    except requests.RequestException as exc:
        logger.warning("stand-in: pushing a security event failed (%s)", type(exc).__name__)
        return None
    logger.info("stand-in: security event pushed, receiver answered %s", response.status_code)
    return response.status_code
