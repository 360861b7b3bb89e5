"""Every HTTP call to Google: one ``requests.Session``, a timeout on each call,
strict parsing of what comes back, and typed errors.

Secrets travel only in request bodies and the ``Authorization`` header, never
in a URL, and no token, code or client secret is put into a log line or an
exception message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from django.views.decorators.debug import sensitive_variables

from .conf import GoogleConnectSettings, get_settings
from .exceptions import (
    GoogleAPIError,
    RefreshFailed,
    RevokeFailed,
    TokenExchangeFailed,
    UserInfoFailed,
)
from .retry import parse_retry_after
from .transport import shared_session

logger = logging.getLogger("google_connect")

# Google's token and userinfo answers are a few kilobytes; anything far larger
# is not Google and is refused before it is parsed or stored.
MAX_RESPONSE_BYTES = 64 * 1024
READ_CHUNK_BYTES = 16 * 1024
# requests' translations of urllib3's read errors, and what may slip past them.
READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
# Google documents access tokens up to 2048 bytes and refresh tokens up to 512.
MAX_TOKEN_LENGTH = 4096
# Longest grant lifetime accepted (refresh_token_expires_in...): ten years.
MAX_GRANT_LIFETIME = 10 * 366 * 24 * 3600
# Statuses whose Retry-After header is honoured (RFC 9110 §10.2.3).
RETRY_AFTER_STATUS_CODES = frozenset({429, 503})
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


def is_temporary(status_code: int) -> bool:
    """429 (throttled) and every 5xx: the same call may succeed later."""
    return status_code == 429 or 500 <= status_code < 600


def _error_answer(
    response: requests.Response,
    body: Any,
    error_class: type[GoogleAPIError],
    host: str | None = None,
) -> GoogleAPIError:
    """The error for an HTTP error answer: its status, Google's codes, never its body."""
    status = response.status_code
    retry_after = None
    if status in RETRY_AFTER_STATUS_CODES:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    error = error_class(
        status_code=status,
        error_code=code_of(body),
        error_subtype=code_of(body, "error_subtype"),
        temporary=is_temporary(status),
        retry_after=retry_after,
        host=host,
    )
    logger.warning("Google %s: %s", error_class.reason, error.summary)
    return error


class GoogleOAuthClient:
    """Talks to Google's OAuth 2.0 endpoints as configured in ``GOOGLE_CONNECT``."""

    def __init__(
        self,
        config: GoogleConnectSettings | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config or get_settings()
        self.session = session or shared_session()

    # -- authorization --------------------------------------------------------

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        scopes: tuple[str, ...] | None = None,
        login_hint: str | None = None,
    ) -> str:
        """The consent URL: ``scopes`` default to ``SCOPES``; ``login_hint`` picks the account."""
        params = {
            "response_type": "code",
            "client_id": self.config.CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes or self.config.SCOPES),
            "state": state,
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if login_hint:
            params["login_hint"] = login_hint
        separator = "&" if "?" in self.config.AUTHORIZE_URL else "?"
        return self.config.AUTHORIZE_URL + separator + urlencode(params)

    @sensitive_variables("code", "code_verifier", "data", "body")
    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> TokenResponse:
        data = {
            "code": code,
            "client_id": self.config.CLIENT_ID,
            "client_secret": self.config.CLIENT_SECRET,
            "redirect_uri": redirect_uri,
            "grant_type": "authorization_code",
            "code_verifier": code_verifier,
        }
        body = self._call("POST", self.config.TOKEN_URL, TokenExchangeFailed, data=data)
        return parse_token_response(body, TokenExchangeFailed)

    @sensitive_variables("access_token")
    def fetch_userinfo(self, access_token: str) -> UserInfo:
        body = self._call(
            "GET",
            self.config.USERINFO_URL,
            UserInfoFailed,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return parse_userinfo(body)

    @sensitive_variables("refresh_token", "data", "body")
    def refresh(self, refresh_token: str) -> TokenResponse:
        """Trade a refresh token for a new access token (RFC 6749 §6)."""
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.config.CLIENT_ID,
            "client_secret": self.config.CLIENT_SECRET,
        }
        body = self._call("POST", self.config.TOKEN_URL, RefreshFailed, data=data)
        return parse_token_response(body, RefreshFailed)

    @sensitive_variables("token")
    def revoke(self, token: str) -> bool:
        """Revoke a grant at Google (RFC 7009).

        Returns True when Google revoked it now, False when Google answered
        that the token was already invalid (revoked or expired), which counts
        as revoked too.
        """
        try:
            # RFC 7009 §2.2: the status code is the answer; the body does not matter.
            self._call(
                "POST",
                self.config.REVOKE_URL,
                RevokeFailed,
                data={"token": token},
                status_only=True,
            )
        except RevokeFailed as exc:
            if exc.status_code == 400 and exc.error_code == "invalid_token":
                return False
            raise
        return True

    # -- plumbing ---------------------------------------------------------------

    # Every variable, here and in the requests/urllib3 frames below, is hidden
    # from error reports: they hold the form sent (code, PKCE verifier, client
    # secret, refresh token), the Authorization header and Google's answer.
    @sensitive_variables()
    def _call(
        self,
        method: str,
        url: str,
        error_class: type[GoogleAPIError],
        *,
        status_only: bool = False,
        **kwargs: Any,
    ) -> Any:
        what = error_class.reason
        google = _google_at(url)
        response = send(
            self.session, method, url, error_class, timeout=self.config.TIMEOUT, **kwargs
        )
        with response:
            if response.ok and status_only:
                # Only the status matters (revocation, RFC 7009 §2.2): a body
                # too large or cut short must not turn a success into a failure.
                # It is still read (up to the cap), so that the connection goes
                # back to the pool instead of being closed mid-answer.
                _read_quietly(response)
                return None
            try:
                raw = _read_capped(response, error_class, google)
            except GoogleAPIError:
                if response.ok:
                    raise
                # An error answer is classified by its status: a 5xx too
                # large or cut short is as temporary as any other 5xx.
                raw = b""
        body = _decode_json(raw)
        if not response.ok:
            raise _error_answer(response, body, error_class, _host_of(url))
        if not isinstance(body, dict):
            logger.warning("Google %s: the answer is not a JSON object", what)
            raise error_class(f"The answer of {google} is not a JSON object.", status_code=200)
        return body


@sensitive_variables()
def send(
    session: requests.Session,
    method: str,
    url: str,
    error_class: type[GoogleAPIError],
    *,
    timeout: float,
    **kwargs: Any,
) -> requests.Response:
    """One call to Google, streamed: its answer, unread.

    Raises ``error_class`` when Google cannot be reached or answers with a
    redirect. A redirect is never followed (requests would send a 307's form,
    client secret, code or refresh token, on to wherever it points) and its
    body is never read (see GoogleSession.get_redirect_target).
    """
    what = error_class.reason
    google = _google_at(url)
    try:
        response = session.request(
            method, url, timeout=timeout, stream=True, allow_redirects=False, **kwargs
        )
    except requests.RequestException as exc:
        logger.warning("Google %s: request failed (%s)", what, type(exc).__name__)
        raise error_class(
            f"{google} could not be reached ({type(exc).__name__}).", temporary=True
        ) from None
    if response.is_redirect or 300 <= response.status_code < 400:
        response.close()
        logger.warning("Google %s: HTTP %s, a redirect (not followed)", what, response.status_code)
        raise error_class(
            f"{google} answered HTTP {response.status_code}, a redirect (not followed).",
            status_code=response.status_code,
        )
    return response


def _google_at(url: str) -> str:
    # Named in every error: which "Google" failed is the first question (a
    # stand-in, a proxy, a wrong *_URL setting). Never a secret.
    return f"Google ({_host_of(url)})"


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _read_capped(
    response: requests.Response, error_class: type[GoogleAPIError], google: str
) -> bytes:
    try:
        body = _read_up_to(response, MAX_RESPONSE_BYTES + 1)
    except READ_ERRORS as exc:
        logger.warning(
            "Google %s: reading the answer failed (%s)", error_class.reason, type(exc).__name__
        )
        raise error_class(
            f"Reading the answer of {google} failed ({type(exc).__name__}).", temporary=True
        ) from None
    if len(body) > MAX_RESPONSE_BYTES:
        logger.warning(
            "Google %s: answer larger than %d bytes", error_class.reason, MAX_RESPONSE_BYTES
        )
        raise error_class(f"The answer of {google} is too large.", status_code=response.status_code)
    return body


def _read_quietly(response: requests.Response) -> None:
    with contextlib.suppress(*READ_ERRORS):
        _read_up_to(response, MAX_RESPONSE_BYTES + 1)


def _read_up_to(response: requests.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the (decompressed) body; a body read to its
    end hands its connection back to the pool."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=READ_CHUNK_BYTES):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    # RecursionError: a small answer can nest deeper than the parser goes.
    except (ValueError, RecursionError):
        return None


@sensitive_variables("body", "access_token", "refresh_token", "id_token")
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
