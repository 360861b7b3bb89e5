"""Google's OAuth 2.0 endpoints: the consent URL, the code exchange, userinfo,
refresh and revocation, each one call through the thread's shared session.

Secrets travel only in request bodies and the ``Authorization`` header, never
in a URL, and no token, code or client secret is put into a log line or an
exception message. How a call is sent and read is ``google_http``'s; what an
answer must hold is ``answers``'.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import requests
from django.views.decorators.debug import sensitive_variables

from google_connect.conf import GoogleConnectSettings, get_settings
from google_connect.exceptions import (
    GoogleAPIError,
    RefreshFailed,
    RevokeFailed,
    TokenExchangeFailed,
    UserInfoFailed,
)
from google_connect.google import clients
from google_connect.google.answers import (
    TokenResponse,
    UserInfo,
    code_of,
    parse_token_response,
    parse_userinfo,
)
from google_connect.google.clients import OAuthClient
from google_connect.google.deadline import call_deadline
from google_connect.google.http import json_answer, read_capped, read_quietly, send
from google_connect.google.transport import shared_session

# Long imported from here by sites and by google_connect itself.
__all__ = [
    "GoogleOAuthClient",
    "TokenResponse",
    "UserInfo",
    "code_of",
    "parse_token_response",
    "parse_userinfo",
]

logger = logging.getLogger("google_connect")


def already_invalid(exc: RevokeFailed) -> bool:
    """Whether a failed revocation says the token was already dead (so, revoked)."""
    return exc.status_code == 400 and exc.error_code == "invalid_token"


class GoogleOAuthClient:
    """Talks to Google's OAuth 2.0 endpoints as ``client`` (the ``default`` one unless given).

    The code exchange and refreshes send that client's id and secret: a
    grant refreshed with another client's credentials is refused. Revoking
    needs no credentials.
    """

    def __init__(
        self,
        config: GoogleConnectSettings | None = None,
        session: requests.Session | None = None,
        *,
        client: OAuthClient | None = None,
    ) -> None:
        self.config = config or get_settings()
        self.session = session or shared_session()
        self.client = client or clients.default(self.config)

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
            "client_id": self.client.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes or self.client.scopes),
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

    @sensitive_variables()
    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenResponse:
        """Trade an authorization code for tokens (RFC 6749 §4.1.3).

        ``code_verifier`` None sends none: Google refuses a verifier for a
        code issued without a PKCE challenge (a popup's or a mobile app's).
        ``redirect_uri`` is sent even when empty, as a mobile app's server
        auth code needs.
        """
        data = {
            "code": code,
            "client_id": self.client.client_id,
            "client_secret": self.client.secret,
            "redirect_uri": redirect_uri,
            "grant_type": "authorization_code",
        }
        if code_verifier is not None:
            data["code_verifier"] = code_verifier
        body = self._call("POST", self.config.TOKEN_URL, TokenExchangeFailed, data=data)
        return parse_token_response(body, TokenExchangeFailed)

    @sensitive_variables()
    def fetch_userinfo(self, access_token: str) -> UserInfo:
        body = self._call(
            "GET",
            self.config.USERINFO_URL,
            UserInfoFailed,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return parse_userinfo(body)

    @sensitive_variables()
    def refresh(self, refresh_token: str) -> TokenResponse:
        """Trade a refresh token for a new access token (RFC 6749 §6)."""
        body = self._call(
            "POST", self.config.TOKEN_URL, RefreshFailed, data=self.refresh_form(refresh_token)
        )
        return parse_token_response(body, RefreshFailed)

    @sensitive_variables()
    def refresh_form(self, refresh_token: str) -> dict[str, str]:
        """The form of a refresh, whichever HTTP client sends it."""
        return {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client.client_id,
            "client_secret": self.client.secret,
        }

    @sensitive_variables()
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
            if already_invalid(exc):
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
        timeout = self.config.TIMEOUT
        # TIMEOUT bounds the whole call, not each read: a refresh holds its
        # account's row lock throughout.
        with call_deadline(timeout):
            response = send(self.session, method, url, error_class, timeout=timeout, **kwargs)
            with response:
                if response.ok and status_only:
                    # Only the status matters (revocation, RFC 7009 §2.2): a body
                    # too large or cut short must not turn a success into a
                    # failure. It is still read (up to the cap), so that the
                    # connection goes back to the pool instead of being closed
                    # mid-answer.
                    read_quietly(response)
                    return None
                try:
                    raw = read_capped(response, error_class, url)
                except GoogleAPIError:
                    if response.ok:
                        raise
                    # An error answer is classified by its status: a 5xx too
                    # large or cut short is as temporary as any other 5xx.
                    raw = b""
        return json_answer(response.status_code, response.headers, raw, error_class, url)
