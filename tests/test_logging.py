"""What the ``google_connect`` logger says, at which level, and what it never says."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from google_connect.exceptions import ReconnectRequired
from tests.factories import make_account
from tests.support import (
    ACCESS_TOKEN,
    AUTH_CODE,
    REFRESH_TOKEN,
    SUB,
    connect,
    finish_flow,
    start_flow,
)

pytestmark = pytest.mark.django_db

SECRETS = (ACCESS_TOKEN, REFRESH_TOKEN, AUTH_CODE, "TEST-CLIENT-SECRET", "ya29.", "1//")


@pytest.fixture
def records(caplog):
    caplog.set_level(logging.DEBUG)

    def ours(level):
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "google_connect" and r.levelno == level
        ]

    yield ours
    for record in caplog.records:
        for secret in SECRETS:
            assert secret not in record.getMessage()


def test_a_connect_is_logged_at_info_with_id_and_sub(alice, google, records):
    connect(alice, google)

    [line] = records(logging.INFO)
    assert line.startswith("Google account connected: account_id=")
    assert f"sub={SUB}" in line


def test_a_refresh_is_logged_at_info(google, records):
    account = make_account(expires_at=timezone.now() - timedelta(minutes=1))
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})

    account.get_access_token()

    assert records(logging.INFO) == [
        f"Google token refreshed: account_id={account.pk} sub={account.sub}"
    ]


def test_reconnect_required_is_info_and_googles_code_is_a_warning(google, records):
    account = make_account(expires_at=timezone.now() - timedelta(minutes=1))
    google.token({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)

    with pytest.raises(ReconnectRequired):
        account.get_access_token()

    assert records(logging.INFO) == [
        "Google grant is dead (invalid_grant), reconnect required: "
        f"account_id={account.pk} sub={account.sub}"
    ]
    assert records(logging.WARNING) == [
        "Google refresh_failed: token endpoint: HTTP 400, error=invalid_grant"
    ]


def test_a_revoke_is_logged_at_info(google, records):
    account = make_account()
    google.revoke()

    account.disconnect()

    assert records(logging.INFO) == [
        f"Google grant revoked: account_id={account.pk} sub={account.sub}"
    ]


def test_a_failed_exchange_logs_googles_error_code_at_warning(alice, google, records):
    google.token(
        {"error": "invalid_grant", "error_description": "Malformed auth code."}, status=400
    )
    finish_flow(alice, start_flow(alice)["state"])

    warnings = records(logging.WARNING)
    assert "Google token_exchange_failed: token endpoint: HTTP 400, error=invalid_grant" in warnings
    assert any("reason=token_exchange_failed" in line for line in warnings)
    assert all("Malformed" not in line for line in warnings)
