"""get_access_token(): refresh when needed, broken grants, temporary failures."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from responses import matchers

from google_connect.exceptions import (
    GoogleConnectError,
    GoogleUnavailable,
    ReconnectRequired,
    RefreshFailed,
)
from google_connect.google import retry
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_reconnect_required, google_token_refreshed
from tests.factories import make_account
from tests.support import recording

pytestmark = pytest.mark.django_db

NEW_TOKEN = {
    "access_token": "ya29.REFRESHED",
    "expires_in": 3599,
    "scope": "openid https://www.googleapis.com/auth/calendar",
    "token_type": "Bearer",
}


@pytest.fixture
def expired():
    return make_account(
        access_token="ya29.OLD",
        refresh_token="1//STORED-REFRESH",
        expires_at=timezone.now() - timedelta(minutes=1),
    )


def test_valid_token_is_returned_without_calling_google(google):
    account = make_account(
        access_token="ya29.VALID", expires_at=timezone.now() + timedelta(hours=1)
    )

    assert account.get_access_token() == "ya29.VALID"
    assert len(google.mock.calls) == 0


def test_token_expiring_within_a_minute_is_refreshed(google):
    account = make_account(expires_at=timezone.now() + timedelta(seconds=30))
    google.token(NEW_TOKEN)

    assert account.get_access_token() == "ya29.REFRESHED"


def test_refresh_posts_the_documented_form_and_stores_the_result(google, expired, settings):
    google.token(
        NEW_TOKEN,
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "1//STORED-REFRESH",
                    "client_id": settings.GOOGLE_CONNECT["CLIENT_ID"],
                    "client_secret": settings.GOOGLE_CONNECT["CLIENT_SECRET"],
                }
            )
        ],
    )

    assert expired.get_access_token() == "ya29.REFRESHED"

    stored = GoogleAccount.objects.get(pk=expired.pk)
    assert stored.access_token == "ya29.REFRESHED"
    assert stored.refresh_token == "1//STORED-REFRESH"
    assert stored.scopes == "openid https://www.googleapis.com/auth/calendar"
    assert timezone.now() + timedelta(seconds=3590) < stored.expires_at
    assert stored.expires_at <= timezone.now() + timedelta(seconds=3599)
    assert expired.expires_at == stored.expires_at


def test_a_new_refresh_token_replaces_the_old_one(google, expired):
    google.token({**NEW_TOKEN, "refresh_token": "1//ROTATED"})

    expired.get_access_token()

    assert GoogleAccount.objects.get(pk=expired.pk).refresh_token == "1//ROTATED"


def test_min_validity_can_be_raised(google):
    account = make_account(expires_at=timezone.now() + timedelta(minutes=3))
    google.token(NEW_TOKEN)

    assert account.get_access_token() != "ya29.REFRESHED"
    assert account.get_access_token(min_validity=timedelta(minutes=5)) == "ya29.REFRESHED"


@pytest.mark.django_db(transaction=True)
def test_refreshed_signal_is_sent_after_commit(google, expired):
    google.token(NEW_TOKEN)
    with recording(google_token_refreshed) as calls:
        expired.get_access_token()

    [kwargs] = calls
    assert kwargs["sender"] is GoogleAccount
    assert kwargs["account"].pk == expired.pk
    assert kwargs["account"].access_token == "ya29.REFRESHED"


@pytest.mark.django_db(transaction=True)
def test_invalid_grant_marks_the_account_and_signals_once(google, expired):
    google.token({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)
    with recording(google_account_reconnect_required) as calls:
        with pytest.raises(ReconnectRequired) as raised:
            expired.get_access_token()
        with pytest.raises(ReconnectRequired):
            expired.get_access_token()
        with pytest.raises(ReconnectRequired):
            GoogleAccount.objects.get(pk=expired.pk).get_access_token()

    assert isinstance(raised.value, GoogleConnectError)
    assert GoogleAccount.objects.get(pk=expired.pk).status == "reconnect_required"
    assert expired.status == "reconnect_required"
    assert GoogleAccount.objects.get(pk=expired.pk).reconnect_reason == "invalid_grant"
    assert len(google.mock.calls) == 1
    [kwargs] = calls
    assert kwargs["account"].pk == expired.pk
    assert kwargs["reason"] == "invalid_grant"
    assert kwargs["error"] == "invalid_grant"


def test_broken_account_raises_without_calling_google(google):
    account = make_account(status=GoogleAccount.Status.RECONNECT_REQUIRED)

    with pytest.raises(ReconnectRequired):
        account.get_access_token()
    assert len(google.mock.calls) == 0


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "json": {}},
        {"status": 500, "json": {"error": "internal_failure"}},
        {"status": 429, "json": {"error": "rate_limit_exceeded"}},
        {"status": 504, "json": {}},
        {"body": requests.exceptions.ConnectTimeout("connect timeout")},
        {"body": requests.exceptions.ReadTimeout("read timeout")},
        {"body": requests.exceptions.ConnectionError("refused")},
    ],
)
def test_temporary_failures_are_retried(google, expired, sleeps, failure):
    url = google.config.TOKEN_URL
    google.mock.post(url, **failure)
    google.mock.post(url, **failure)
    google.mock.post(url, json=NEW_TOKEN)

    assert expired.get_access_token() == "ya29.REFRESHED"
    assert len(google.mock.calls) == 3
    assert len(sleeps) == 2


def test_retries_stop_after_three_with_a_temporary_error(google, expired, sleeps):
    for _ in range(5):
        google.token({}, status=503)

    with pytest.raises(GoogleUnavailable) as raised:
        expired.get_access_token()

    assert raised.value.temporary is True
    assert "temporar" in type(raised.value).__doc__.lower()
    assert len(google.mock.calls) == 4
    assert len(sleeps) == 3
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1 and 0 <= sleeps[2] <= 2
    stored = GoogleAccount.objects.get(pk=expired.pk)
    assert (stored.status, stored.access_token) == ("active", "ya29.OLD")


def test_backoff_is_jittered():
    delays = {retry.backoff_delay(2) for _ in range(20)}

    assert len(delays) > 1
    assert all(0 <= d <= 2 for d in delays)


def test_other_errors_are_not_retried_and_keep_the_account_active(google, expired, sleeps):
    google.token({"error": "invalid_client"}, status=401)

    with pytest.raises(RefreshFailed):
        expired.get_access_token()

    assert len(google.mock.calls) == 1
    assert sleeps == []
    assert GoogleAccount.objects.get(pk=expired.pk).status == "active"


def test_unusable_refresh_answer_changes_nothing(google, expired):
    google.token({**NEW_TOKEN, "token_type": "mac"})

    with pytest.raises(RefreshFailed):
        expired.get_access_token()

    assert GoogleAccount.objects.get(pk=expired.pk).access_token == "ya29.OLD"


def test_a_caller_that_finds_a_fresh_token_after_locking_does_not_refresh(google, expired):
    # Another worker refreshed while this instance was in memory.
    GoogleAccount.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() + timedelta(hours=1)
    )
    stored = GoogleAccount.objects.get(pk=expired.pk)
    stored.access_token = "ya29.BY-ANOTHER-WORKER"
    stored.save()

    assert expired.get_access_token() == "ya29.BY-ANOTHER-WORKER"
    assert len(google.mock.calls) == 0


def test_a_stale_instance_never_saves_its_old_token_over_a_newer_one(google, expired):
    stale = GoogleAccount.objects.get(pk=expired.pk)
    google.token(NEW_TOKEN)
    expired.get_access_token()

    stale.name = "Renamed"
    stale.save()

    stored = GoogleAccount.objects.get(pk=expired.pk)
    assert stored.name == "Renamed"
    assert stored.access_token == "ya29.REFRESHED"


def test_a_stale_instance_cannot_revive_a_broken_account(google, expired):
    stale = GoogleAccount.objects.get(pk=expired.pk)
    google.token({"error": "invalid_grant"}, status=400)
    with pytest.raises(ReconnectRequired):
        expired.get_access_token()

    stale.save()

    assert GoogleAccount.objects.get(pk=expired.pk).status == "reconnect_required"


def test_refresh_access_token_refreshes_a_valid_token(google):
    account = make_account(expires_at=timezone.now() + timedelta(hours=1))
    google.token(NEW_TOKEN)

    account.refresh_access_token()

    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.REFRESHED"
