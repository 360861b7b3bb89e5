"""The async path counts what the sync one counts: revocations, and refreshes
that failed for now, in OpenTelemetry's counters and the overview's daily table."""

from datetime import timedelta

import pytest
from django.utils import timezone

from google_connect.exceptions import GoogleUnavailable
from google_connect.google import retry
from google_connect.models import DailyCount, GoogleAccount
from google_connect.store import bulk
from tests.factories import make_account
from tests.stub_google import StubGoogle
from tests.telemetry_support import EXPORTER, READER, set_providers
from tests.test_telemetry import points

# asgiref's database thread has a connection of its own: it sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

# A 503 for the first call and each of its retries.
EVERY_ATTEMPT = retry.MAX_RETRIES + 1


@pytest.fixture(scope="module", autouse=True)
def providers():
    set_providers()


@pytest.fixture
def counted():
    EXPORTER.clear()
    READER.get_metrics_data()  # drops what earlier tests counted
    yield
    EXPORTER.clear()


@pytest.fixture
def stand_in(settings, monkeypatch):
    async def no_wait(seconds):
        pass

    monkeypatch.setattr(retry, "asleep", no_wait)
    with StubGoogle(token_delay=0) as stub:
        settings.GOOGLE_CONNECT = {
            **settings.GOOGLE_CONNECT,
            "TOKEN_URL": stub.token_url,
            "REVOKE_URL": stub.revoke_url,
        }
        yield stub


def expired(refresh_token):
    return make_account(
        refresh_token=refresh_token, expires_at=timezone.now() - timedelta(minutes=5)
    )


def daily():
    return dict(DailyCount.objects.values_list("kind", "count"))


def test_an_async_revocation_is_counted(stand_in, counted):
    account = make_account(refresh_token="1//TO-REVOKE")

    assert bulk.run(account.arevoke()) is True

    assert points("google_connect.revocations") == [({"google_connect.outcome": "revoked"}, 1)]


def test_an_async_revocation_google_refused_is_counted_failed(stand_in, counted):
    account = make_account(refresh_token="1//UNAVAILABLE")
    stand_in.unavailable["1//UNAVAILABLE"] = EVERY_ATTEMPT

    with pytest.raises(GoogleUnavailable):
        bulk.run(account.arevoke())

    assert points("google_connect.revocations") == [({"google_connect.outcome": "failed"}, 1)]


def test_an_async_bulk_revoke_counts_each_revocation(stand_in, counted):
    for n in range(3):
        make_account(refresh_token=f"1//BULK-{n}")
    stand_in.unavailable["1//BULK-2"] = EVERY_ATTEMPT

    report = bulk.run(bulk.revoke_accounts(GoogleAccount.objects.all(), concurrency=3))

    assert (report.revoked, report.failed) == (2, 1)
    assert sorted(points("google_connect.revocations"), key=str) == [
        ({"google_connect.outcome": "failed"}, 1),
        ({"google_connect.outcome": "revoked"}, 2),
    ]


def test_an_async_refresh_that_failed_for_now_is_counted(stand_in, counted):
    account = expired("1//UNAVAILABLE")
    stand_in.unavailable["1//UNAVAILABLE"] = EVERY_ATTEMPT

    with pytest.raises(GoogleUnavailable):
        bulk.run(account.aget_access_token())

    assert points("google_connect.refreshes") == [
        ({"google_connect.outcome": "failed", "google_connect.reason": "google_unavailable"}, 1)
    ]
    assert daily() == {"refresh_failures": 1}


def test_a_bulk_refresh_that_failed_for_now_is_counted(stand_in, counted):
    expired("1//FINE")
    expired("1//UNAVAILABLE")
    stand_in.unavailable["1//UNAVAILABLE"] = EVERY_ATTEMPT

    counts = bulk.run(
        bulk.refresh_accounts(GoogleAccount.objects.expiring_within(timedelta(0)), concurrency=2)
    )

    assert counts == {"refreshed": 1, "reconnect_required": 0, "failed": 1}
    assert sorted(points("google_connect.refreshes"), key=str) == [
        ({"google_connect.outcome": "failed", "google_connect.reason": "google_unavailable"}, 1),
        ({"google_connect.outcome": "success"}, 1),
    ]
    assert daily() == {"refreshes": 1, "refresh_failures": 1}
