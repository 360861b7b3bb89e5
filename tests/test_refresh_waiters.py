"""Callers that find the row locked wait for the refresh in flight (PostgreSQL).

A second database connection, in a thread, plays the caller that holds the
lock; the test's caller must wait for it, then use what it left.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from google_connect.models import GoogleAccount
from tests.factories import make_account

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]

HOLD_SECONDS = 0.3


def hold_lock(account_id, *, new_token=None):
    """Lock the row for HOLD_SECONDS from another connection; store ``new_token`` if given."""
    locked = threading.Event()

    def run():
        try:
            with transaction.atomic():
                row = GoogleAccount.objects.select_for_update().get(pk=account_id)
                locked.set()
                time.sleep(HOLD_SECONDS)
                if new_token:
                    row.access_token = new_token
                    row.expires_at = timezone.now() + timedelta(hours=1)
                    row.save()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert locked.wait(5)
    return thread


@pytest.fixture
def expired():
    return make_account(access_token="ya29.OLD", expires_at=timezone.now() - timedelta(minutes=1))


def test_waiter_takes_the_token_the_lock_holder_stored(google, expired):
    holder = hold_lock(expired.pk, new_token="ya29.FROM-THE-HOLDER")

    with CaptureQueriesContext(connection) as queries:
        token = expired.get_access_token()

    holder.join()
    assert token == "ya29.FROM-THE-HOLDER"
    assert google.token_requests() == []
    # It waited next to other waiters (FOR SHARE), not in the queue for the lock.
    assert [q["sql"].split()[-2:] for q in queries if "FOR" in q["sql"]] == [
        ["SKIP", "LOCKED"],
        ["FOR", "SHARE"],
    ]


def test_waiter_refreshes_itself_when_the_lock_holder_stored_nothing(google, expired):
    google.token({"access_token": "ya29.MINE", "expires_in": 3599, "token_type": "Bearer"})
    holder = hold_lock(expired.pk)

    token = expired.get_access_token()

    holder.join()
    assert token == "ya29.MINE"
    assert len(google.token_requests()) == 1
    assert GoogleAccount.objects.get(pk=expired.pk).access_token == "ya29.MINE"
