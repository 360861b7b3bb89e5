"""A failure to count (the overview's daily counts, an OpenTelemetry metric) never fails a refresh.

Transactional tests: in autocommit, as on a site, the daily count runs as soon
as the refresh is over, where a failure would reach the caller.
"""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from google_connect.google import telemetry
from google_connect.models import GoogleAccount
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)

NEW_TOKEN = {"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"}


@pytest.fixture
def account():
    return make_account(
        access_token="ya29.OLD",
        refresh_token="1//STORED",
        expires_at=timezone.now() - timedelta(minutes=1),
    )


class _Raising:
    """An OpenTelemetry instrument whose SDK fails."""

    def add(self, *args, **kwargs):
        raise RuntimeError("a broken metric reader")

    record = add


@pytest.mark.parametrize("name", ["google_connect.refreshes", "http.client.request.duration"])
def test_a_raising_metric_leaves_the_refresh_standing(name, account, google, monkeypatch, caplog):
    monkeypatch.setitem(telemetry._instruments, name, _Raising())
    google.token(NEW_TOKEN)

    with caplog.at_level(logging.WARNING, logger="google_connect"):
        assert account.get_access_token() == "ya29.NEW"

    # Stored: the count inside the account's transaction did not roll it back.
    assert GoogleAccount.objects.get().access_token == "ya29.NEW"
    assert f"Recording the metric {name} failed; carrying on" in caplog.text
    assert "ya29." not in caplog.text
