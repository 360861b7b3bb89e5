"""What Google's token and userinfo endpoints answer, checked before anything is trusted.

Every field is type- and size-checked; an answer that fails raises the
caller's error class with the problem in words, never the value.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleAPIError, TokenExchangeFailed, UserInfoFailed

logger = logging.getLogger("google_connect")

# Google documents access tokens up to 2048 bytes and refresh tokens up to 512.
MAX_TOKEN_LENGTH = 4096
# Longest grant lifetime accepted (refresh_token_expires_in...): ten years.
MAX_GRANT_LIFETIME = 10 * 366 * 24 * 3600
_ERROR_CODE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
# What may go into ``Authorization: Bearer`` (RFC 6750 §2.1, b64token).
_BEARER_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


@dataclass(frozen=True, repr=False)
class TokenResponse:
    """A successful answer of the token endpoint (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    token_type: str
    # None when Google left ``scope`` out, which RFC 6749 §5.1 allows when the
    # granted scopes are exactly the requested ones.
    scopes: tuple[str, ...] | None
    refresh_token: str | None
    # A time-limited grant: the refresh token's remaining lifetime, and the
    # IETF draft's lifetime of the whole grant, in seconds (None when absent).
    refresh_token_expires_in: int | None = None
    authorization_expires_in: int | None = None
    # OpenID Connect's ``id_token``, read only with ``USE_ID_TOKEN``; None when
    # Google sent none.
    id_token: str | None = None

    def __repr__(self) -> str:
        return (
            f"<TokenResponse expires_in={self.expires_in} scopes={self.scopes!r} "
            f"refresh_token={'present' if self.refresh_token else 'absent'}>"
        )


@dataclass(frozen=True)
class UserInfo:
    """The OpenID Connect userinfo claims google_connect keeps."""

    sub: str
    email: str = ""
    email_verified: bool = False
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    picture: str = ""
    locale: str = ""


# Field name -> longest value accepted (the model's column sizes).
USERINFO_LIMITS = {
    "sub": 255,
    "email": 254,
    "name": 255,
    "given_name": 255,
    "family_name": 255,
    "picture": 2048,
    "locale": 35,
}


def code_of(response_body: Any, key: str = "error") -> str | None:
    """Google's ``error`` code (or another ``key``'s) from an error body, if plausible."""
    if isinstance(response_body, dict):
        error = response_body.get(key)
        if isinstance(error, str) and _ERROR_CODE_RE.match(error):
            return error
    return None


@sensitive_variables()
def parse_token_response(
    body: dict[str, Any], error_class: type[GoogleAPIError] = TokenExchangeFailed
) -> TokenResponse:
    def fail(problem: str) -> GoogleAPIError:
        logger.warning("Google %s: %s", error_class.reason, problem)
        return error_class(f"Google's token response is unusable: {problem}.", status_code=200)

    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise fail("no access_token")
    if len(access_token) > MAX_TOKEN_LENGTH:
        raise fail("access_token too long")
    if not _BEARER_TOKEN_RE.match(access_token):
        raise fail("access_token has characters a Bearer token cannot have")
    refresh_token = body.get("refresh_token")
    if refresh_token is not None and (
        not isinstance(refresh_token, str)
        or not refresh_token
        or len(refresh_token) > MAX_TOKEN_LENGTH
        # RFC 6749 Appendix A.17: printable ASCII only.
        or not (refresh_token.isascii() and refresh_token.isprintable())
    ):
        raise fail("malformed refresh_token")
    expires_in = body.get("expires_in")
    # bool is an int subclass; ``true`` is no lifetime.
    if type(expires_in) is not int:
        raise fail("expires_in missing or not an integer")
    if not 0 < expires_in <= 366 * 24 * 3600:
        raise fail("expires_in out of range")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise fail("token_type is not Bearer")
    scope = body.get("scope")
    id_token = body.get("id_token")
    if scope is not None and (not isinstance(scope, str) or len(scope) > 8192):
        raise fail("malformed scope")
    # Time-limited access. The draft's ``refresh_token_timeout`` is an idle
    # timeout, not an end date, and is not read.
    lifetimes = {}
    for name in ("refresh_token_expires_in", "authorization_expires_in"):
        value = body.get(name)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_GRANT_LIFETIME):
            raise fail(f"{name} out of range")
        lifetimes[name] = value
    return TokenResponse(
        access_token=access_token,
        expires_in=expires_in,
        token_type="Bearer",
        scopes=None if scope is None else tuple(scope.split()),
        refresh_token=refresh_token,
        **lifetimes,
        # One that is not a string is kept as an empty, so malformed, one: with
        # USE_ID_TOKEN it is refused, never skipped.
        id_token=None if id_token is None else (id_token if isinstance(id_token, str) else ""),
    )


def parse_userinfo(
    body: dict[str, Any],
    error_class: type[GoogleAPIError] = UserInfoFailed,
    what: str = "userinfo response",
) -> UserInfo:
    def fail(problem: str) -> GoogleAPIError:
        logger.warning("Google %s: %s", error_class.reason, problem)
        return error_class(f"Google's {what} is unusable: {problem}.", status_code=200)

    values: dict[str, Any] = {}
    for name, limit in USERINFO_LIMITS.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise fail(f"{name} is not a string")
        if len(value) > limit:
            raise fail(f"{name} is longer than {limit} characters")
        values[name] = value
    if not values.get("sub"):
        raise fail("no sub")
    verified = body.get("email_verified", False)
    # Some Google endpoints have sent the claim as the string "true".
    values["email_verified"] = verified is True or verified == "true"
    return UserInfo(**values)
