"""google_connect.tasks on a real broker: two ``celery worker`` processes
(concurrency 2 each) on Redis and PostgreSQL, with a stand-in token endpoint
on 127.0.0.1 that answers after 100 ms.

Marked ``celery_live`` and skipped unless pytest runs with ``--celery-live``:
CI runs it once per run (.ci/run), not in every tox environment. Redis
database 14 by default (``GOOGLE_CONNECT_LIVE_REDIS_URL``), flushed before
and after; nothing else in Redis is touched.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from benchmarks import seed
from google_connect.models import GoogleAccount
from tests.celery_workers import Workers, current_app, redis_or_reason, wait_for_results
from tests.stub_google import StubGoogle

pytestmark = [pytest.mark.celery_live, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("GOOGLE_CONNECT_LIVE_REDIS_URL", "redis://127.0.0.1:6379/14")
EXPIRING, NOT_EXPIRING = 1_000, 200
CHUNK_SIZE = 100


@pytest.fixture
def redis_db():
    client, reason = redis_or_reason(REDIS_URL)
    if client is None:
        pytest.skip(reason)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "celery_live needs PostgreSQL: the worker processes share the test database "
            "(set DATABASE_URL=postgres://...)"
        )


@pytest.mark.parametrize("deliver_twice", [False, True], ids=["once", "every-chunk-twice"])
def test_refresh_expiring_on_real_workers_calls_google_once_per_account(
    postgres, redis_db, tmp_path, deliver_twice
):
    from google_connect import tasks

    due = seed.create_accounts(EXPIRING, expired=True, label="due")
    later = seed.create_accounts(NOT_EXPIRING, expired=False, label="later")
    before = {
        a.pk: (a.access_token, a.expires_at) for a in GoogleAccount.objects.filter(pk__in=later)
    }

    with (
        StubGoogle(token_delay=0.1) as stub,
        Workers(
            count=2,
            concurrency=2,
            broker_url=REDIS_URL,
            settings="tests.celery_worker_settings",
            env={
                "STAND_IN_TOKEN_URL": stub.token_url,
                "GC_DELIVER_TWICE": "1" if deliver_twice else "",
            },
            log_dir=tmp_path,
        ) as workers,
        current_app(workers.app),
    ):
        fan_out = tasks.refresh_expiring.delay(chunk_size=CHUNK_SIZE).get(timeout=120)
        deliveries = fan_out["chunks"] * (2 if deliver_twice else 1)
        results = wait_for_results(redis_db, "google_connect.refresh_accounts", deliveries, workers)
        token_calls = stub.count("token")

    assert fan_out == {"accounts": EXPIRING, "chunks": EXPIRING // CHUNK_SIZE}
    assert len(results) == deliveries
    assert token_calls == EXPIRING
    total = {key: sum(r[key] for r in results) for key in results[0]}
    assert total["failed"] == 0 and total["reconnect_required"] == 0
    assert total["refreshed"] + total["already_fresh"] == EXPIRING * (2 if deliver_twice else 1)
    if not deliver_twice:
        assert total["refreshed"] == EXPIRING
    fresh_after = timezone.now() + timedelta(minutes=55)
    assert GoogleAccount.objects.filter(pk__in=due, expires_at__gt=fresh_after).count() == EXPIRING
    for account in GoogleAccount.objects.filter(pk__in=before):
        assert (account.access_token, account.expires_at) == before[account.pk]
