"""Time-limited grants and why an account needs a reconnect (issue 14, parts 1-3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from google_connect.exceptions import GoogleConnectError, ReconnectRequired, RefreshFailed
from google_connect.fields import UNDECRYPTABLE
from google_connect.google.answers import parse_token_response
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_reconnect_required
from google_connect.store.reasons import ReconnectReason
from tests.factories import make_account
from tests.support import connect, recording, token_body

pytestmark = pytest.mark.django_db

DAY = 24 * 3600
REFRESHED = {"access_token": "ya29.REFRESHED", "expires_in": 3599, "token_type": "Bearer"}


def expired_access(**fields):
    return make_account(expires_at=timezone.now() - timedelta(minutes=1), **fields)


def about(moment, expected):
    assert moment is not None
    assert abs((moment - expected).total_seconds()) < 30, (moment, expected)


# -- 1. the expiry: set, kept, cleared ------------------------------------------------


def test_connect_with_a_limited_grant_stores_when_it_ends(alice, google, user):
    connect(alice, google, token=token_body(refresh_token_expires_in=7 * DAY))

    account = GoogleAccount.objects.get()
    about(account.refresh_token_expires_at, timezone.now() + timedelta(days=7))
    assert account.authorization_expires_at is None
    about(account.last_refreshed_at, timezone.now())


def test_authorization_expires_in_is_stored_and_ends_the_grant_first(alice, google, user):
    connect(
        alice,
        google,
        token=token_body(refresh_token_expires_in=30 * DAY, authorization_expires_in=2 * DAY),
    )

    account = GoogleAccount.objects.get()
    about(account.authorization_expires_at, timezone.now() + timedelta(days=2))
    assert account.grant_expires_at == account.authorization_expires_at


def test_refresh_token_timeout_is_not_an_end_date(alice, google, user):
    connect(alice, google, token=token_body(refresh_token_timeout=3600))

    account = GoogleAccount.objects.get()
    assert account.refresh_token_expires_at is None
    assert account.authorization_expires_at is None


def test_refresh_repeating_the_lifetime_sets_it_again(google):
    account = expired_access(refresh_token_expires_at=timezone.now() + timedelta(days=9))
    google.token({**REFRESHED, "refresh_token_expires_in": 3 * DAY})

    account.get_access_token()

    stored = GoogleAccount.objects.get(pk=account.pk)
    about(stored.refresh_token_expires_at, timezone.now() + timedelta(days=3))
    assert account.refresh_token_expires_at == stored.refresh_token_expires_at


def test_refresh_without_the_field_or_a_new_refresh_token_keeps_it(google):
    ends = timezone.now() + timedelta(days=3)
    account = expired_access(refresh_token_expires_at=ends, authorization_expires_at=ends)
    google.token(REFRESHED)

    account.get_access_token()

    stored = GoogleAccount.objects.get(pk=account.pk)
    assert stored.refresh_token_expires_at == ends
    assert stored.authorization_expires_at == ends
    about(stored.last_refreshed_at, timezone.now())


def test_refresh_with_a_new_refresh_token_and_no_field_clears_it(google):
    account = expired_access(refresh_token_expires_at=timezone.now() + timedelta(days=3))
    google.token({**REFRESHED, "refresh_token": "1//ROTATED"})

    account.get_access_token()

    assert GoogleAccount.objects.get(pk=account.pk).refresh_token_expires_at is None


def test_reconnect_with_ongoing_access_clears_it(alice, google, user):
    make_account(
        user,
        sub="109876543210987654321",
        refresh_token_expires_at=timezone.now() + timedelta(days=3),
        status=GoogleAccount.Status.RECONNECT_REQUIRED,
        reconnect_reason="refresh_token_expired",
    )

    connect(alice, google)

    account = GoogleAccount.objects.get()
    assert account.refresh_token_expires_at is None
    assert (account.status, account.reconnect_reason) == ("active", "")


@pytest.mark.parametrize("value", [-1, "3600", 1.5, True, 11 * 366 * DAY])
def test_a_malformed_lifetime_is_refused(value):
    with pytest.raises(GoogleConnectError, match="refresh_token_expires_in out of range"):
        parse_token_response(token_body(refresh_token_expires_in=value))


# -- 1. no call to Google once it ended -----------------------------------------------


def test_valid_access_token_is_returned_after_the_grant_ended(google):
    account = make_account(
        access_token="ya29.STILL-VALID",
        refresh_token_expires_at=timezone.now() - timedelta(minutes=5),
    )

    assert account.get_access_token() == "ya29.STILL-VALID"
    assert account.status == "active"


def test_no_call_to_google_after_the_grant_ended(google, django_capture_on_commit_callbacks):
    account = expired_access(refresh_token_expires_at=timezone.now() - timedelta(seconds=1))

    with (
        recording(google_account_reconnect_required) as sent,
        pytest.raises(ReconnectRequired),
        django_capture_on_commit_callbacks(execute=True),
    ):
        account.get_access_token()

    assert len(google.mock.calls) == 0
    stored = GoogleAccount.objects.get(pk=account.pk)
    assert (stored.status, stored.reconnect_reason) == (
        "reconnect_required",
        "refresh_token_expired",
    )
    assert account.reconnect_reason == "refresh_token_expired"
    [kwargs] = sent
    assert (kwargs["reason"], kwargs["error"]) == ("refresh_token_expired", None)


def test_no_call_to_google_after_the_authorization_ended(google):
    account = expired_access(authorization_expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(ReconnectRequired):
        account.refresh_access_token()

    assert len(google.mock.calls) == 0
    assert GoogleAccount.objects.get(pk=account.pk).reconnect_reason == "refresh_token_expired"


# -- 2. each reason from each cause ------------------------------------------------------


def refused(google, **body):
    google.token({"error": "invalid_grant", **body}, status=400)


@pytest.mark.parametrize(
    ("body", "ends_in", "reason"),
    [
        ({}, None, "invalid_grant"),
        ({}, timedelta(days=3), "invalid_grant"),
        ({"error_subtype": "invalid_rapt"}, None, "reauth_required"),
        ({"error_subtype": "rapt_required"}, None, "reauth_required"),
        ({"error_subtype": "invalid_rapt"}, timedelta(minutes=1), "reauth_required"),
        # Our end date is a little late (counted from when the answer came).
        ({}, timedelta(minutes=1), "refresh_token_expired"),
        ({"error_subtype": "something_else"}, None, "invalid_grant"),
    ],
)
def test_invalid_grant_is_classified(
    google, body, ends_in, reason, django_capture_on_commit_callbacks
):
    ends = None if ends_in is None else timezone.now() + ends_in
    account = expired_access(refresh_token_expires_at=ends)
    refused(google, **body)

    with (
        recording(google_account_reconnect_required) as sent,
        pytest.raises(ReconnectRequired),
        django_capture_on_commit_callbacks(execute=True),
    ):
        account.get_access_token()

    assert GoogleAccount.objects.get(pk=account.pk).reconnect_reason == reason
    [kwargs] = sent
    assert (kwargs["reason"], kwargs["error"]) == (reason, "invalid_grant")


def test_error_subtype_is_kept_on_the_error(google):
    from google_connect.google.oauth import GoogleOAuthClient

    refused(google, error_subtype="invalid_rapt")

    with pytest.raises(RefreshFailed) as raised:
        GoogleOAuthClient().refresh("1//X")

    assert (raised.value.error_code, raised.value.error_subtype) == (
        "invalid_grant",
        "invalid_rapt",
    )


def test_undecryptable_tokens_are_not_a_reason(google, settings):
    account = expired_access()
    settings.FERNET_KEYS = ["a-key-that-encrypted-nothing"]
    account = GoogleAccount.objects.get(pk=account.pk)
    assert account.__dict__["refresh_token"] is UNDECRYPTABLE

    with pytest.raises(GoogleConnectError) as raised:
        account.get_access_token()

    assert not isinstance(raised.value, ReconnectRequired)
    assert len(google.mock.calls) == 0
    assert GoogleAccount.objects.filter(
        pk=account.pk, status="active", reconnect_reason=""
    ).exists()


def test_a_successful_reconnect_clears_the_reason(alice, google, user):
    make_account(
        user,
        sub="109876543210987654321",
        status=GoogleAccount.Status.RECONNECT_REQUIRED,
        reconnect_reason="reauth_required",
    )

    connect(alice, google)

    assert GoogleAccount.objects.filter(status="active", reconnect_reason="").count() == 1


# -- 3. last use -----------------------------------------------------------------------


def test_a_refresh_sets_last_refreshed_at(google):
    long_ago = timezone.now() - timedelta(days=100)
    account = expired_access(last_refreshed_at=long_ago)
    google.token(REFRESHED)

    account.get_access_token()

    about(GoogleAccount.objects.get(pk=account.pk).last_refreshed_at, timezone.now())


def test_a_failed_refresh_leaves_last_refreshed_at(google):
    long_ago = timezone.now() - timedelta(days=100)
    account = expired_access(last_refreshed_at=long_ago)
    refused(google)

    with pytest.raises(ReconnectRequired):
        account.get_access_token()

    assert GoogleAccount.objects.get(pk=account.pk).last_refreshed_at == long_ago


# -- the displayed state (issue 29) ----------------------------------------------------


def test_an_ended_time_limited_grant_reads_as_ended_before_any_refresh(user):
    account = make_account(user, refresh_token_expires_at=timezone.now() - timedelta(minutes=1))

    assert account.status == GoogleAccount.Status.ACTIVE  # nothing has failed yet
    assert account.effective_status == GoogleAccount.Status.RECONNECT_REQUIRED
    assert account.effective_reconnect_reason == ReconnectReason.REFRESH_TOKEN_EXPIRED
    assert account.get_effective_status_display() == "Reconnect required"
    assert account.get_effective_reconnect_reason_display() == "Time-limited access ended"


def test_a_grant_still_running_reads_as_stored(user):
    account = make_account(user, refresh_token_expires_at=timezone.now() + timedelta(days=1))

    assert account.effective_status == GoogleAccount.Status.ACTIVE
    assert account.effective_reconnect_reason == ""
    assert account.get_effective_reconnect_reason_display() == ""


def test_a_stored_reconnect_reason_wins_over_the_end_date(user):
    account = make_account(
        user,
        status=GoogleAccount.Status.RECONNECT_REQUIRED,
        reconnect_reason=ReconnectReason.REVOKED,
        refresh_token_expires_at=timezone.now() - timedelta(days=1),
    )

    assert account.effective_reconnect_reason == ReconnectReason.REVOKED
