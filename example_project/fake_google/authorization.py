"""Validation of an authorization request, as Google's consent endpoint does it.

Google refuses a bad request with an error page of its own rather than a
redirect, because a redirect to an unchecked ``redirect_uri`` would be an open
redirector; the stand-in does the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.http import QueryDict
from django.urls import reverse

from .conf import RegisteredClient, oauth_issuer

# An S256 challenge is BASE64URL(SHA256(verifier)) without padding: 43 characters.
S256_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_SCOPE_LENGTH = 4096
MAX_STATE_LENGTH = 2048
# Google Identity Services' popup: the code goes back to the opener page by
# postMessage, not by a redirect (gsi.py).
POSTMESSAGE = "postmessage"


class AuthorizationError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{error}: {description}")


@dataclass(frozen=True)
class AuthorizationRequest:
    client: RegisteredClient
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str
    login_hint: str | None = None
    # Google then grants the union of this and the identity's earlier grants.
    include_granted_scopes: bool = False
    # The opener page's origin, for redirect_uri=postmessage.
    origin: str | None = None

    def redirect(self, **params: str) -> str:
        """``redirect_uri`` with ``params``, the state and ``iss`` added to its query.

        Google names itself in every redirect back, errors included (RFC 9207),
        so a site with ``REQUIRE_ISSUER`` works against the stand-in too.
        """
        if self.state is not None:
            params["state"] = self.state
        if self.redirect_uri == POSTMESSAGE:
            return popup_relay_url(self.origin or "", params)
        params["iss"] = oauth_issuer()
        parts = urlsplit(self.redirect_uri)
        query = "&".join(filter(None, [parts.query, urlencode(params)]))
        return urlunsplit(parts._replace(query=query))


def parse(query: QueryDict, client: RegisteredClient) -> AuthorizationRequest:
    def single(name: str) -> str | None:
        values = query.getlist(name)
        if len(values) > 1:
            raise AuthorizationError("invalid_request", f"Parameter given twice: {name}")
        return values[0] if values else None

    def required(name: str) -> str:
        value = single(name)
        if not value:
            raise AuthorizationError("invalid_request", f"Missing required parameter: {name}")
        return value

    if required("client_id") != client.client_id:
        raise AuthorizationError("invalid_client", "The OAuth client was not found.", 401)
    redirect_uri = required("redirect_uri")
    origin = None
    if redirect_uri == POSTMESSAGE:
        # Google checks the page's origin against the client's JavaScript
        # origins; the stand-in takes those of its redirect URIs.
        origin = required("origin")
        if origin not in javascript_origins(client):
            raise AuthorizationError(
                "origin_mismatch", f"The origin {origin} is not authorized for the OAuth client."
            )
    # Google compares redirect URIs character for character: no normalising.
    elif redirect_uri not in client.redirect_uris:
        raise AuthorizationError(
            "redirect_uri_mismatch",
            f"The redirect URI in the request, {redirect_uri}, does not match the ones "
            f"authorized for the OAuth client: {', '.join(client.redirect_uris)}.",
        )
    response_type = required("response_type")
    if response_type != "code":
        raise AuthorizationError(
            "unsupported_response_type", "Only response_type=code is supported."
        )
    scope = required("scope")
    if len(scope) > MAX_SCOPE_LENGTH:
        raise AuthorizationError("invalid_scope", "The scope parameter is too long.")
    # PKCE is optional at Google; the stand-in insists, to catch a client that
    # drops it, except for the popup, whose codes Google issues without one.
    if origin is not None:
        code_challenge = ""
    else:
        code_challenge = required("code_challenge")
        if required("code_challenge_method") != "S256":
            raise AuthorizationError("invalid_request", "code_challenge_method must be S256.")
        if not S256_CHALLENGE_RE.match(code_challenge):
            raise AuthorizationError("invalid_request", "Invalid code_challenge.")
    state = single("state")
    if state is not None and len(state) > MAX_STATE_LENGTH:
        raise AuthorizationError("invalid_request", "The state parameter is too long.")
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=tuple(dict.fromkeys(scope.split())),
        state=state,
        code_challenge=code_challenge,
        login_hint=single("login_hint"),
        include_granted_scopes=single("include_granted_scopes") == "true",
        origin=origin,
    )


def javascript_origins(client: RegisteredClient) -> set[str]:
    """The origins (``scheme://host:port``) of the client's redirect URIs."""
    origins = set()
    for uri in client.redirect_uris:
        parts = urlsplit(uri)
        if parts.scheme and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def popup_relay_url(origin: str, params: dict[str, str]) -> str:
    """The popup's last page: it posts ``params`` to the opener at ``origin`` (gsi.py)."""
    return reverse("fake_google:gsi_relay") + "?" + urlencode({**params, "origin": origin})
