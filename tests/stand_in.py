"""Drivers for the example project's stand-in for Google, through Django's test client."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from example_project import demo
from google_connect.web.flow import code_challenge_for

AUTHORIZE = "/fake-google/o/oauth2/v2/auth"
TOKEN = "/fake-google/token"
USERINFO = "/fake-google/oauth2/v3/userinfo"
REVOKE = "/fake-google/revoke"
REDIRECT_URI = "http://testserver" + demo.CONNECT_PATH
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
PROFILE_SCOPE = "https://www.googleapis.com/auth/userinfo.profile"
SCOPES = ("openid", EMAIL_SCOPE, PROFILE_SCOPE)
# The stand-in keeps its tables in a database of its own (fake_google/routers.py).
DATABASES = ["default", "fake_google"]
stand_in_db = pytest.mark.django_db(databases=DATABASES)
# For tests where the live server's threads, with connections of their own,
# play Google: their writes must be committed and flushed afterwards.
stand_in_db_over_http = pytest.mark.django_db(transaction=True, databases=DATABASES)


@dataclass
class Authorization:
    """An authorization request as google_connect sends it, with its PKCE verifier."""

    verifier: str
    params: dict[str, str]

    @property
    def url(self) -> str:
        return f"{AUTHORIZE}?{urlencode(self.params)}"


def authorization(**overrides: Any) -> Authorization:
    verifier = secrets.token_urlsafe(64)
    params = {
        "response_type": "code",
        "client_id": demo.CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": " ".join(SCOPES),
        "state": "STATE-123",
        "access_type": "offline",
        "prompt": "consent",
        "code_challenge": code_challenge_for(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return Authorization(verifier, {k: v for k, v in params.items() if v is not None})


def answer(client, auth: Authorization, decision: str = "allow", **form: Any):
    """Press Allow or Cancel on the consent page of ``auth``."""
    data = {"identity": "ada", "scopes": list(SCOPES), "decision": decision, **form}
    return client.post(auth.url, data)


def redirect_params(response) -> dict[str, str]:
    assert response.status_code == 302, response
    location = response["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def allow(client, **form: Any) -> tuple[str, Authorization]:
    """A consent answered with Allow; returns the authorization code and its request."""
    auth = authorization()
    params = redirect_params(answer(client, auth, **form))
    return params["code"], auth


def exchange(client, code: str, auth: Authorization, **overrides: Any):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": demo.CLIENT_ID,
        "client_secret": demo.CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": auth.verifier,
    }
    data.update(overrides)
    return client.post(TOKEN, {k: v for k, v in data.items() if v is not None})


def connected_tokens(client, **form: Any) -> dict[str, Any]:
    """The token endpoint's answer for a fresh consent."""
    code, auth = allow(client, **form)
    response = exchange(client, code, auth)
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client, refresh_token: str, **overrides: Any):
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": demo.CLIENT_ID,
        "client_secret": demo.CLIENT_SECRET,
    }
    data.update(overrides)
    return client.post(TOKEN, data)


def userinfo(client, access_token: str):
    return client.get(USERINFO, headers={"Authorization": f"Bearer {access_token}"})


def oauth_error(response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    return response.status_code, body["error"]
