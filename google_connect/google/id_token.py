"""The account's identity read from the token answer's ``id_token`` (``USE_ID_TOKEN``).

The ``id_token`` came straight from Google's token endpoint over TLS, in
answer to a request that authenticated this client, so OpenID Connect Core
§3.1.3.7 (point 6) lets the client skip checking its signature. What it was
issued for is still checked: the issuer, the audience (and the authorized
party, when present), and that it is current, with 5 minutes of leeway for
clocks that disagree. Anything else is an ``InvalidIdToken``: never a silent
fall-back to the userinfo call, which would hide a misconfiguration.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Collection
from typing import Any

from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import InvalidIdToken
from google_connect.google.answers import UserInfo, parse_userinfo

logger = logging.getLogger("google_connect")

ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
LEEWAY_SECONDS = 5 * 60


@sensitive_variables()
def userinfo_from_id_token(
    id_token: str,
    *,
    client_id: str,
    authorized_parties: Collection[str] = (),
    now: float | None = None,
) -> UserInfo:
    """The identity claims of ``id_token``, checked as issued to ``client_id`` and current.

    ``authorized_parties``: other client ids ``azp`` may name. A mobile app's
    server auth code is exchanged by the web client (the ``aud``) but was
    asked for by the app's iOS or Android client (the ``azp``).
    """
    claims = _claims(id_token)
    now = time.time() if now is None else now
    if claims.get("iss") not in ISSUERS:
        raise _invalid("iss is not Google")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise _invalid("aud is not this client")
    if "azp" in claims and claims["azp"] != client_id and claims["azp"] not in authorized_parties:
        raise _invalid("azp is not this client")
    if len(audiences) > 1 and "azp" not in claims:
        raise _invalid("several audiences and no azp")
    expires, issued = _number(claims.get("exp")), _number(claims.get("iat"))
    if expires is None or expires + LEEWAY_SECONDS <= now:
        raise _invalid("expired, or exp missing")
    if issued is None or issued - LEEWAY_SECONDS > now:
        raise _invalid("iat missing or in the future")
    return parse_userinfo(claims, InvalidIdToken, what="id_token")


@sensitive_variables()
def _claims(id_token: str) -> dict[str, Any]:
    parts = id_token.split(".")
    if len(parts) != 3:
        raise _invalid("not a JWS in compact form")
    payload = parts[1]
    try:
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    # RecursionError: a payload can nest deeper than the parser goes.
    except (ValueError, binascii.Error, RecursionError):
        raise _invalid("its payload is not base64url-encoded JSON") from None
    if not isinstance(claims, dict):
        raise _invalid("its payload is not a JSON object")
    return claims


def _number(value: Any) -> int | float | None:
    """A finite JSON number; None for anything else (``true``, ``NaN`` and
    ``Infinity``, which Python's parser accepts, included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return None


def _invalid(problem: str) -> InvalidIdToken:
    logger.warning("Google %s: %s", InvalidIdToken.reason, problem)
    return InvalidIdToken(f"Google's id_token is unusable: {problem}.", status_code=200)
