"""Revocation's answer is its status code (RFC 7009 §2.2), whatever the body does."""

import io

import pytest

from google_connect.exceptions import RevokeFailed
from google_connect.google import retry
from google_connect.google.http import MAX_RESPONSE_BYTES
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.models import GoogleAccount
from tests.factories import make_account

pytestmark = pytest.mark.django_db


class StallingBody(io.RawIOBase):
    """A body that times out before its first byte."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise TimeoutError("The read operation timed out")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


def test_a_200_with_an_oversize_body_counts_as_revoked(google, user):
    account = make_account(user)
    revoke = google.mock.post(google.config.REVOKE_URL, body=b"x" * (MAX_RESPONSE_BYTES + 1))

    assert account.disconnect() is True

    assert revoke.call_count == 1
    assert not GoogleAccount.objects.exists()


def test_a_200_whose_body_times_out_counts_as_revoked(google, user):
    account = make_account(user)
    google.mock.add_callback(
        "POST",
        google.config.REVOKE_URL,
        callback=lambda request: (200, {}, io.BufferedReader(StallingBody())),
    )

    assert account.disconnect() is True

    assert not GoogleAccount.objects.exists()


def test_an_oversize_error_body_still_fails(google):
    google.mock.post(google.config.REVOKE_URL, status=400, body=b"x" * (MAX_RESPONSE_BYTES + 1))

    with pytest.raises(RevokeFailed) as raised:
        GoogleOAuthClient().revoke("1//SOME-TOKEN")

    assert raised.value.status_code == 400
    assert raised.value.error_code is None


def test_a_redirect_does_not_count_as_revoked(google):
    google.mock.post(
        google.config.REVOKE_URL, status=302, headers={"Location": "https://example.com/revoked"}
    )

    with pytest.raises(RevokeFailed) as raised:
        GoogleOAuthClient().revoke("1//SOME-TOKEN")

    assert raised.value.status_code == 302
