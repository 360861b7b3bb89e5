"""Test helpers for sites that use google_connect: Google faked, accounts made to order.

google_connect's own test suite uses these. They need the ``testing`` extra
(``pip install "google-connect[testing]"``, which adds ``responses``)::

    # conftest.py
    pytest_plugins = ["google_connect.testing.fixtures"]

    # test_calendar_sync.py
    from google_connect.testing import make_account

    def test_sync_uses_a_fresh_token(google, user):
        account = make_account(user, expires_at=timezone.now())  # expired
        google.token()                      # Google's next token answer
        sync_calendar(account)              # your code: refreshes, then calls the API
        assert google.token_requests()[0]["grant_type"] == ["refresh_token"]

    def test_connecting_starts_a_sync(google, client, user):
        client.force_login(user)
        response = google.connect(client)   # authorize, consent, callback
        assert response.status_code == 200
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

from google_connect.conf import GoogleConnectSettings, get_settings

if TYPE_CHECKING:
    import responses
    from django.test import Client

    from google_connect.store.models import GoogleAccount

__all__ = [
    "ACCESS_TOKEN",
    "AUTH_CODE",
    "EMAIL",
    "REFRESH_TOKEN",
    "SUB",
    "FakeGoogle",
    "finish_flow",
    "make_account",
    "start_flow",
    "token_body",
    "userinfo_body",
]

ACCESS_TOKEN = "ya29.TEST-ACCESS-TOKEN-0123456789"
REFRESH_TOKEN = "1//TEST-REFRESH-TOKEN-0123456789"
AUTH_CODE = "4/TEST-AUTH-CODE-0123456789"
SUB = "109876543210987654321"
EMAIL = "john.doe@example.com"

_sequence = itertools.count(1)


def userinfo_body(sub: str = SUB, email: str = EMAIL, **overrides: Any) -> dict[str, Any]:
    """A userinfo answer as Google sends it; ``overrides`` change or add claims."""
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
    """A token answer granting every configured scope; an override of None drops the key."""
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
    """Google's token, userinfo and revoke endpoints, answered by ``responses``.

    Each method queues an answer at the URL the ``GOOGLE_CONNECT`` settings
    name; ``mock`` is the ``responses.RequestsMock`` for anything else.
    """

    mock: responses.RequestsMock

    @property
    def config(self) -> GoogleConnectSettings:
        return get_settings()

    def token(self, body: dict[str, Any] | None = None, status: int = 200, **kwargs: Any) -> Any:
        return self.mock.post(
            self.config.TOKEN_URL,
            json=token_body() if body is None else body,
            status=status,
            **kwargs,
        )

    def userinfo(self, body: dict[str, Any] | None = None, status: int = 200, **kwargs: Any) -> Any:
        return self.mock.get(
            self.config.USERINFO_URL,
            json=userinfo_body() if body is None else body,
            status=status,
            **kwargs,
        )

    def revoke(self, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.mock.post(self.config.REVOKE_URL, json=body or {}, status=status, **kwargs)

    def token_requests(self) -> list[dict[str, list[str]]]:
        """The forms sent to the token endpoint so far, parsed."""
        return [
            parse_qs(str(call.request.body))
            for call in self.mock.calls
            if call.request.url == self.config.TOKEN_URL
        ]

    def connect(
        self,
        client: Client,
        *,
        token: dict[str, Any] | None = None,
        userinfo: dict[str, Any] | None = None,
        next_url: str | None = None,
    ) -> Any:
        """A whole connect flow for the client's logged-in user; returns the callback's response."""
        self.token(token)
        self.userinfo(userinfo)
        params = start_flow(client, next_url)
        return finish_flow(client, params["state"])


def start_flow(client: Client, next_url: str | None = None) -> dict[str, str]:
    """Hit the authorize view and return the query parameters sent to Google."""
    data = {"next": next_url} if next_url is not None else {}
    response = client.get("/google/accounts/authorize", data)
    assert response.status_code == 302, response
    query = parse_qs(urlsplit(response["Location"]).query)
    return {key: values[0] for key, values in query.items()}


def finish_flow(client: Client, state: str, code: str = AUTH_CODE, **extra: str) -> Any:
    """Come back from Google to the callback with ``state`` and an authorization code.

    Google's ``iss`` (the ``ISSUER`` setting) comes along, as Google sends it,
    unless ``extra`` gives another.
    """
    extra.setdefault("iss", get_settings().ISSUER)
    return client.get("/google/accounts/connect", {"state": state, "code": code, **extra})


def make_account(user: Any = None, **fields: Any) -> GoogleAccount:
    """A stored account, without the OAuth flow; a new user when none is given."""
    from django.contrib.auth import get_user_model

    from google_connect.store.models import GoogleAccount

    n = next(_sequence)
    if user is None:
        user = get_user_model().objects.create_user(f"user{n}")
    values = {
        "sub": f"sub-{n}",
        "email": f"person{n}@example.com",
        "access_token": f"ya29.FACTORY-ACCESS-{n}",
        "refresh_token": f"1//FACTORY-REFRESH-{n}",
        "expires_at": timezone.now() + timedelta(hours=1),
        "scopes": "openid email profile",
    }
    values.update(fields)
    return GoogleAccount.objects.create(user=user, **values)
