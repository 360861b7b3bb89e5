"""A failure to count (the overview's daily counts, an OpenTelemetry metric) never fails a refresh.

Transactional tests: in autocommit, as on a site, the daily count runs as soon
as the refresh is over, where a failure would reach the caller.
"""

import logging
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from google_connect.google import telemetry
from google_connect.models import DailyCount, GoogleAccount
from google_connect.store import activity
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


class _Refusing:
    """A manager whose database refuses every statement."""

    def using(self, alias):
        raise DatabaseError("the counts' database is read-only")


class _Raising:
    """An OpenTelemetry instrument whose SDK fails."""

    def add(self, *args, **kwargs):
        raise RuntimeError("a broken metric reader")

    record = add


def test_a_database_refusing_the_daily_count_is_logged_and_the_refresh_stands(
    account, google, monkeypatch, caplog
):
    monkeypatch.setattr(DailyCount, "objects", _Refusing())
    google.token(NEW_TOKEN)

    with caplog.at_level(logging.WARNING, logger="google_connect"):
        assert account.get_access_token() == "ya29.NEW"

    assert GoogleAccount.objects.get().access_token == "ya29.NEW"
    assert "Counting a refreshes for the overview failed (DatabaseError)" in caplog.text


def test_any_other_failure_to_count_the_day_leaves_the_refresh_standing(
    account, google, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in counting")

    monkeypatch.setattr(activity, "increment", broken)
    google.token(NEW_TOKEN)

    assert account.get_access_token() == "ya29.NEW"
    assert GoogleAccount.objects.get().access_token == "ya29.NEW"


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
