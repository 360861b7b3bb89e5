"""Two keep-alive runs at once, each with two threads: every idle account is refreshed once.

Runs on PostgreSQL (row locks across processes); SQLite has no row locks.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.processes import release_and_collect, start_ready_workers
from tests.stub_google import StubGoogle

RUNS = 2
IDLE = 12

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks across processes need PostgreSQL"
    ),
]


def test_two_concurrent_runs_refresh_each_idle_account_once():
    long_ago = timezone.now() - timedelta(days=160)
    idle = [make_account(last_refreshed_at=long_ago) for _ in range(IDLE)]
    recent = make_account(last_refreshed_at=timezone.now() - timedelta(days=10))
    broken = make_account(last_refreshed_at=long_ago, status="reconnect_required")
    untouched = {a.pk: a.access_token for a in (recent, broken)}

    with StubGoogle(token_delay=0.05) as stub:
        runs = start_ready_workers("tests.keep_alive_worker", [[stub.token_url, "2"]] * RUNS)
        results = [json.loads(out) for out in release_and_collect(runs)]
        calls = stub.count("token")

    assert calls == IDLE
    assert sum(r["refreshed"] for r in results) == IDLE
    assert all(r["failed"] == r["reconnect_required"] == 0 for r in results)
    stored = {a.pk: a for a in GoogleAccount.objects.all()}
    tokens = {stored[a.pk].access_token for a in idle}
    # A stub token per call, so IDLE distinct tokens from IDLE calls: one each.
    assert len(tokens) == IDLE and all(t.startswith("ya29.STUB-") for t in tokens)
    assert all(stored[a.pk].last_refreshed_at > long_ago for a in idle)
    assert {pk: stored[pk].access_token for pk in untouched} == untouched
