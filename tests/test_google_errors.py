"""What a failed call to Google says, and which failures are retried (issue 11, item 3)."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from google_connect.exceptions import GoogleUnavailable, RefreshFailed
from google_connect.google import retry
from google_connect.google.http import MAX_RESPONSE_BYTES
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.support import finish_flow, start_flow

pytestmark = pytest.mark.django_db

NEW_TOKEN = {"access_token": "ya29.REFRESHED", "expires_in": 3599, "token_type": "Bearer"}
HUGE = "x" * (MAX_RESPONSE_BYTES + 10)


@pytest.fixture
def expired():
    return make_account(access_token="ya29.OLD", expires_at=timezone.now() - timedelta(minutes=1))


def test_a_5xx_larger_than_the_cap_is_retried_for_a_refresh(google, expired, sleeps):
    google.mock.post(google.config.TOKEN_URL, body=HUGE, status=502)
    google.token(NEW_TOKEN)

    assert expired.get_access_token() == "ya29.REFRESHED"
    assert len(google.mock.calls) == 2
    assert len(sleeps) == 1


def test_a_5xx_larger_than_the_cap_is_retried_for_a_revoke(google, sleeps):
    account = make_account()
    google.mock.post(google.config.REVOKE_URL, body=HUGE, status=500)
    google.revoke()

    assert account.revoke() is True
    assert len(google.mock.calls) == 2


def test_the_code_exchange_is_never_retried(alice, google, sleeps):
    google.token({"error": "backend_error"}, status=503, headers={"Retry-After": "1"})
    google.token()
    params = start_flow(alice)

    response = finish_flow(alice, params["state"])

    assert response.status_code == 400
    assert len(google.token_requests()) == 1
    assert sleeps == []
    assert not GoogleAccount.objects.exists()


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_waited_instead_of_a_guess(google, expired, sleeps, status):
    google.token({"error": "rate_limit_exceeded"}, status=status, headers={"Retry-After": "3"})
    google.token(NEW_TOKEN)

    assert expired.get_access_token() == "ya29.REFRESHED"
    assert sleeps == [3.0]


def test_retry_after_as_an_http_date_is_waited(google, expired, sleeps):
    when = datetime.now(UTC) + timedelta(seconds=3)
    google.token({}, status=503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    google.token(NEW_TOKEN)

    assert expired.get_access_token() == "ya29.REFRESHED"
    [waited] = sleeps
    assert 1 < waited <= 3


def test_retry_after_longer_than_max_delay_is_not_waited_under_the_lock(google, expired, sleeps):
    google.token({"error": "rate_limit_exceeded"}, status=429, headers={"Retry-After": "120"})
    google.token(NEW_TOKEN)

    with pytest.raises(GoogleUnavailable) as raised:
        expired.get_access_token()

    assert raised.value.retry_after == 120
    assert raised.value.status_code == 429
    assert raised.value.endpoint == "token"
    assert sleeps == []
    assert len(google.mock.calls) == 1
    assert GoogleAccount.objects.get(pk=expired.pk).access_token == "ya29.OLD"


def test_retry_after_is_ignored_on_other_statuses(google, expired, sleeps):
    google.token({}, status=500, headers={"Retry-After": "3"})
    google.token(NEW_TOKEN)

    expired.get_access_token()

    assert len(sleeps) == 1 and sleeps[0] <= retry.BASE_DELAY


def test_an_error_keeps_status_code_subtype_and_endpoint_but_not_the_body(google, caplog):
    google.token(
        {
            "error": "invalid_grant",
            "error_subtype": "invalid_rapt",
            "error_description": "reauth related error BODY-TEXT",
        },
        status=400,
    )

    with pytest.raises(RefreshFailed) as raised:
        GoogleOAuthClient().refresh("1//R")

    error = raised.value
    assert (error.status_code, error.error_code, error.error_subtype, error.endpoint) == (
        400,
        "invalid_grant",
        "invalid_rapt",
        "token",
    )
    assert str(error) == (
        "Google's token endpoint (oauth2.googleapis.com): "
        "HTTP 400, error=invalid_grant/invalid_rapt."
    )
    assert [r.getMessage() for r in caplog.records] == [
        "Google refresh_failed: token endpoint: HTTP 400, error=invalid_grant/invalid_rapt"
    ]
    assert "BODY-TEXT" not in caplog.text


def test_unavailable_after_retries_keeps_what_google_said(google, expired, sleeps):
    for _ in range(4):
        google.token({"error": "backend_error"}, status=503)

    with pytest.raises(GoogleUnavailable) as raised:
        expired.get_access_token()

    error = raised.value
    assert (error.status_code, error.error_code, error.endpoint, error.retry_after) == (
        503,
        "backend_error",
        "token",
        None,
    )
    assert "token endpoint: HTTP 503, error=backend_error" in str(error)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("soon", None), ("", None), ("-3", None), ("1.5", None)],
)
def test_parse_retry_after(header, expected):
    assert retry.parse_retry_after(header) == expected


def test_parse_retry_after_of_a_past_date_is_zero():
    assert retry.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_the_admin_message_reads_from_the_errors_attributes(admin_client, google, sleeps):
    account = make_account(email="stuck@example.com")
    for _ in range(4):
        google.revoke(status=503, body={"error": "backend_error", "error_description": "BODY"})

    response = admin_client.post(
        "/admin/google_connect/googleaccount/",
        {"action": "revoke_and_remove", "_selected_action": [account.pk]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        "Failed for stuck@example.com: Google kept failing to revoke a grant after 3 retries "
        "(revoke endpoint: HTTP 503, error=backend_error)."
    ]


@pytest.mark.parametrize("header", ["²", "9" * 5000, "12.5", "-3"])
def test_a_retry_after_that_is_no_number_of_seconds_is_ignored(google, expired, sleeps, header):
    google.token({"error": "backend_error"}, status=503, headers={"Retry-After": header})
    google.token(NEW_TOKEN)

    assert expired.get_access_token() == "ya29.REFRESHED"
    assert len(sleeps) == 1
    assert sleeps[0] <= retry.MAX_DELAY


def test_an_error_answer_names_the_host_that_gave_it(google, expired):
    google.token({"error": "invalid_request"}, status=400)

    with pytest.raises(RefreshFailed) as raised:
        expired.get_access_token()

    assert raised.value.host == "oauth2.googleapis.com"
    assert "token endpoint (oauth2.googleapis.com): HTTP 400" in str(raised.value)
