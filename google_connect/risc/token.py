"""Reading a Security Event Token (RFC 8417) Google pushed: every check, in order.

The signature is PyJWT's to check, with the key Google published for the
token's ``kid`` and RS256 as the only algorithm: ``none``, HS256 (with the
public key as the HMAC secret or otherwise) and every other algorithm are
refused before any key is looked at. ``iss`` must equal the discovery
document's issuer exactly, ``aud`` one of ``RISC_AUDIENCES``. ``iat``, ``jti``
and ``events`` must be there; ``exp`` need not be, and is not checked when it
is: a security event describes something past, and may arrive late.

Problems raise ``InvalidSecurityEvent`` with the RFC 8935 error code; its
description never repeats the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

import jwt

from google_connect.conf import GoogleConnectSettings, get_settings
from google_connect.google.risc_keys import KEYS, RiscKeys

# Google's tokens are about a kilobyte.
MAX_TOKEN_BYTES = 64 * 1024
ALGORITHM = "RS256"
MAX_ID_LENGTH = 255
# 1970 to 2106: anything else is no time a token was issued.
MAX_TIMESTAMP = 2**32
# Google's clock and ours may disagree by a little: a token "issued" a few
# seconds ahead is not refused for it (PyJWT refuses an iat in the future).
CLOCK_SKEW_SECONDS = 60


class InvalidSecurityEvent(Exception):
    """The token is not one to accept; ``err`` is its RFC 8935 error code."""

    def __init__(self, err: str, description: str) -> None:
        self.err = err
        self.description = description
        super().__init__(f"{err}: {description}")


@dataclass(frozen=True)
class SecurityEventToken:
    """What google_connect uses of an accepted token."""

    jti: str
    issuer: str
    issued_at: datetime
    event_type: str
    # The event's own claims (``subject``, ``reason``, ``state``...).
    event: dict[str, Any]
    # The ``aud`` accepted: the id of the OAuth client the event is addressed to.
    audience: str = ""


def decode(
    body: bytes, config: GoogleConnectSettings | None = None, keys: RiscKeys = KEYS
) -> SecurityEventToken:
    """Check ``body`` (the request body: a compact JWS) and return what it says.

    Raises ``InvalidSecurityEvent``, or ``RiscKeysUnavailable`` when Google's
    keys could not be fetched and none are cached.
    """
    config = config or get_settings()
    token = _compact(body)
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, RecursionError):
        raise InvalidSecurityEvent("invalid_request", "The header cannot be read.") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidSecurityEvent("invalid_key", "Only RS256 signatures are accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_ID_LENGTH:
        raise InvalidSecurityEvent("invalid_key", "The header has no usable kid.")
    issuer = keys.discovery(config).issuer
    key = keys.key(config, kid)
    if key is None:
        raise InvalidSecurityEvent("invalid_key", "The kid names no key Google publishes.")
    audiences = [audience for audience in config.risc_audiences if audience]
    payload = _verified_payload(token, key, issuer, audiences)
    return _read_claims(payload, issuer, audiences)


def _compact(body: bytes) -> str:
    if not body:
        raise InvalidSecurityEvent("invalid_request", "The body is empty.")
    if len(body) > MAX_TOKEN_BYTES:
        raise InvalidSecurityEvent("invalid_request", "The body is too large.")
    try:
        token = body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InvalidSecurityEvent("invalid_request", "The body is not a JWT.") from None
    if token.count(".") != 2:
        raise InvalidSecurityEvent("invalid_request", "The body is not a signed JWT.")
    return token


def _verified_payload(token: str, key: Any, issuer: str, audiences: list[str]) -> dict[str, Any]:
    if not audiences:
        raise InvalidSecurityEvent("invalid_audience", "No audience is configured.")
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=audiences,
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "aud", "iat", "jti"], "verify_exp": False},
        )
    except jwt.InvalidAudienceError:
        raise InvalidSecurityEvent("invalid_audience", "The aud claim is not ours.") from None
    except jwt.InvalidIssuerError:
        raise InvalidSecurityEvent("invalid_issuer", "The iss claim is not Google's.") from None
    except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise InvalidSecurityEvent("invalid_key", "The signature does not verify.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidSecurityEvent(
            "invalid_request", f"The {exc.claim} claim is missing."
        ) from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise InvalidSecurityEvent("invalid_request", "The claims cannot be read.") from None
    # PyJWT compares iss exactly since 2.10.1; checked here too, as it is the
    # one claim that tells Google's tokens from any other signer's.
    if payload.get("iss") != issuer:
        raise InvalidSecurityEvent("invalid_issuer", "The iss claim is not Google's.")
    return payload


def _usable_id(value: Any) -> TypeGuard[str]:
    # PostgreSQL cannot store a NUL character in a text column.
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and "\x00" not in value


def _read_claims(payload: dict[str, Any], issuer: str, audiences: list[str]) -> SecurityEventToken:
    jti = payload.get("jti")
    if not _usable_id(jti):
        raise InvalidSecurityEvent("invalid_request", "The jti claim is not a usable id.")
    iat = payload.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not 0 <= iat < MAX_TIMESTAMP:
        raise InvalidSecurityEvent("invalid_request", "The iat claim is not a time.")
    events = payload.get("events")
    if not isinstance(events, dict) or not events:
        raise InvalidSecurityEvent("invalid_request", "The events claim is missing or empty.")
    if len(events) != 1:
        # Google sends one event per token; the audit trail keeps one type per jti.
        raise InvalidSecurityEvent("invalid_request", "One event per token is accepted.")
    ((event_type, event),) = events.items()
    if not _usable_id(event_type) or not isinstance(event, dict):
        raise InvalidSecurityEvent("invalid_request", "The event cannot be read.")
    return SecurityEventToken(
        jti=jti,
        issuer=issuer,
        issued_at=datetime.fromtimestamp(iat, UTC),
        event_type=event_type,
        event=event,
        audience=_accepted_audience(payload.get("aud"), audiences),
    )


def _accepted_audience(aud: Any, audiences: list[str]) -> str:
    """The first of the token's audiences that is ours (PyJWT checked there is one)."""
    values = aud if isinstance(aud, list) else [aud]
    return next((value for value in values if value in audiences), "")
