"""Test helpers: canned Google answers, a ``responses`` wrapper and flow drivers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from django.dispatch import Signal

from google_connect.conf import get_settings

ACCESS_TOKEN = "ya29.TEST-ACCESS-TOKEN-0123456789"
REFRESH_TOKEN = "1//TEST-REFRESH-TOKEN-0123456789"
AUTH_CODE = "4/TEST-AUTH-CODE-0123456789"
SUB = "109876543210987654321"
EMAIL = "john.doe@example.com"


@contextmanager
def recording(*signals: Signal, sender: Any = None) -> Iterator[list[dict[str, Any]]]:
    """Every send of ``signals`` (from ``sender`` alone, when given) while inside.

    Yields one list, in the order sent, of each send's kwargs; Django puts the
    ``signal`` and the ``sender`` among them.
    """
    sent: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        sent.append(kwargs)

    for signal in signals:
        signal.connect(receiver, sender=sender, weak=False)
    try:
        yield sent
    finally:
        for signal in signals:
            signal.disconnect(receiver, sender=sender)


def userinfo_body(sub: str = SUB, email: str = EMAIL, **overrides: Any) -> dict[str, Any]:
    body = {
        "sub": sub,
        "name": "John Doe",
        "given_name": "John",
        "family_name": "Doe",
        "picture": "https://lh3.googleusercontent.com/a-/AOh14Gh",
        "email": email,
        "email_verified": True,
        "locale": "en",
    }
    body.update(overrides)
    return body


def token_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "access_token": ACCESS_TOKEN,
        "expires_in": 3599,
        "refresh_token": REFRESH_TOKEN,
        "scope": " ".join(get_settings().SCOPES),
        "token_type": "Bearer",
        "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@dataclass
class FakeGoogle:
    """``responses`` wrapped with helpers for Google's OAuth endpoints."""

    mock: responses.RequestsMock
    calls: list[Any] = field(default_factory=list)

    @property
    def config(self):
        return get_settings()

    def token(self, body: dict[str, Any] | None = None, status: int = 200, **kwargs: Any):
        return self.mock.post(
            self.config.TOKEN_URL,
            json=token_body() if body is None else body,
            status=status,
            **kwargs,
        )

    def userinfo(self, body: dict[str, Any] | None = None, status: int = 200, **kwargs: Any):
        return self.mock.get(
            self.config.USERINFO_URL,
            json=userinfo_body() if body is None else body,
            status=status,
            **kwargs,
        )

    def revoke(self, status: int = 200, body: Any = None, **kwargs: Any):
        return self.mock.post(self.config.REVOKE_URL, json=body or {}, status=status, **kwargs)

    def token_requests(self) -> list[dict[str, list[str]]]:
        return [
            parse_qs(call.request.body)
            for call in self.mock.calls
            if call.request.url == self.config.TOKEN_URL
        ]


def start_flow(client, next_url: str | None = None) -> dict[str, str]:
    """Hit the authorize view and return the query parameters sent to Google."""
    data = {"next": next_url} if next_url is not None else {}
    response = client.get("/google/accounts/authorize", data)
    assert response.status_code == 302, response
    query = parse_qs(urlsplit(response["Location"]).query)
    return {key: values[0] for key, values in query.items()}


def finish_flow(client, state: str, code: str = AUTH_CODE, **extra: str):
    return client.get("/google/accounts/connect", {"state": state, "code": code, **extra})


def connect(client, google: FakeGoogle, *, token=None, userinfo=None, next_url=None):
    """A whole successful-looking flow against a fake Google; returns the callback response."""
    google.token(token)
    google.userinfo(userinfo)
    params = start_flow(client, next_url)
    return finish_flow(client, params["state"])


def example_google_connect(config: dict[str, Any]) -> dict[str, Any]:
    """``GOOGLE_CONNECT`` as example_project/settings.py completes it: the site's layout."""
    return {**config, "BASE_TEMPLATE": "base.html"}
