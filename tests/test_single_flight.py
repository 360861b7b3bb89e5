"""Many OS processes ask for one expired account's token: Google is called once.

Runs on PostgreSQL (row locks across processes); SQLite has no row locks.
"""

import json
import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.processes import release_and_collect, start_ready_workers
from tests.stub_google import StubGoogle

PROCESSES = 8

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks across processes need PostgreSQL"
    ),
]


def start_workers(account_id: int, token_url: str) -> list[subprocess.Popen]:
    return start_ready_workers("tests.refresh_worker", [[str(account_id), token_url]] * PROCESSES)


def test_eight_processes_refresh_an_expired_token_exactly_once():
    account = make_account(
        access_token="ya29.EXPIRED", expires_at=timezone.now() - timedelta(minutes=5)
    )
    with StubGoogle(token_delay=0.25) as stub:
        workers = start_workers(account.pk, stub.token_url)
        results = [json.loads(out) for out in release_and_collect(workers, timeout=60)]

        assert stub.count("token") == 1
    stored = GoogleAccount.objects.get(pk=account.pk).access_token
    assert stored.startswith("ya29.STUB-")
    assert [r["token"] for r in results] == [stored] * PROCESSES
