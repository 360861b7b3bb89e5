"""account.authorized_session() and account.credentials()."""

import sys
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from google.auth.transport.requests import Request as GoogleAuthRequest
from responses import matchers

from google_connect.models import GoogleAccount
from tests.factories import make_account

pytestmark = pytest.mark.django_db

CALENDARS = "https://www.googleapis.com/calendar/v3/users/me/calendarList"
NEW_TOKEN = {"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"}


def bearer(token):
    return [matchers.header_matcher({"Authorization": f"Bearer {token}"})]


def test_sends_the_fresh_token_as_a_bearer_header(google):
    account = make_account(access_token="ya29.VALID")
    api = google.mock.get(CALENDARS, json={"items": []}, match=bearer("ya29.VALID"))

    response = account.authorized_session().get(CALENDARS)

    assert response.json() == {"items": []}
    assert api.call_count == 1


def test_refreshes_an_expired_token_before_the_call(google):
    account = make_account(expires_at=timezone.now() - timedelta(minutes=1))
    google.token(NEW_TOKEN)
    api = google.mock.get(CALENDARS, json={}, match=bearer("ya29.NEW"))

    account.authorized_session().get(CALENDARS)

    assert api.call_count == 1


def test_a_401_refreshes_once_and_retries_once(google):
    account = make_account(access_token="ya29.REJECTED")
    google.mock.get(CALENDARS, status=401, match=bearer("ya29.REJECTED"))
    google.token(NEW_TOKEN)
    retried = google.mock.get(CALENDARS, json={"ok": True}, match=bearer("ya29.NEW"))

    response = account.authorized_session().get(CALENDARS)

    assert response.status_code == 200
    assert retried.call_count == 1
    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.NEW"


def test_a_second_401_is_returned_not_retried_again(google):
    account = make_account(access_token="ya29.REJECTED")
    google.mock.get(CALENDARS, status=401)
    google.token(NEW_TOKEN)

    response = account.authorized_session().get(CALENDARS)

    assert response.status_code == 401
    api_calls = [c for c in google.mock.calls if c.request.url == CALENDARS]
    assert len(api_calls) == 2
    assert len(google.token_requests()) == 1


def test_the_configured_timeout_is_applied(google, settings, monkeypatch):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TIMEOUT": 4}
    account = make_account()
    google.mock.get(CALENDARS, json={})
    seen = []
    real_request = requests.Session.request

    def spy(self, method, url, *args, **kwargs):
        seen.append(kwargs.get("timeout"))
        return real_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    session = account.authorized_session()
    session.get(CALENDARS)
    session.get(CALENDARS, timeout=1)

    assert seen == [4, 1]


def test_repr_has_no_token():
    account = make_account(access_token="ya29.SECRET")

    assert "SECRET" not in repr(account.authorized_session())


def test_credentials_carry_a_fresh_token_and_no_refresh_secret(google, settings):
    account = make_account(access_token="ya29.VALID", scopes="openid email")

    credentials = account.credentials()

    assert credentials.token == "ya29.VALID"
    assert credentials.refresh_token is None
    assert credentials.client_secret is None
    assert credentials.scopes == ["openid", "email"]
    assert credentials.valid


def test_credentials_refresh_through_google_connect(google):
    account = make_account(access_token="ya29.VALID")
    google.token(NEW_TOKEN)
    credentials = account.credentials()
    # google-auth decides to refresh (say the token was rejected).
    GoogleAccount.objects.filter(pk=account.pk).update(
        expires_at=timezone.now() + timedelta(minutes=1)
    )
    account.refresh_from_db()

    credentials.refresh(GoogleAuthRequest())

    assert credentials.token == "ya29.NEW"
    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.NEW"


def test_credentials_without_google_auth_name_the_extra(monkeypatch):
    account = make_account()
    monkeypatch.setitem(sys.modules, "google.oauth2.credentials", None)

    with pytest.raises(ImportError, match=r"google_connect\[google\]"):
        account.credentials()
