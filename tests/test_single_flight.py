"""Many OS processes ask for one expired account's token: Google is called once.

Runs on PostgreSQL (row locks across processes); SQLite has no row locks.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.stub_google import StubGoogle

PROCESSES = 8
REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks across processes need PostgreSQL"
    ),
]


def database_url() -> str:
    params = connection.settings_dict
    user = params["USER"] or "postgres"
    host = params["HOST"] or "127.0.0.1"
    port = params["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{params['NAME']}"


def start_workers(account_id: int, token_url: str) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "tests.refresh_worker", str(account_id), token_url]
    workers = [
        subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    return workers


def test_eight_processes_refresh_an_expired_token_exactly_once():
    account = make_account(
        access_token="ya29.EXPIRED", expires_at=timezone.now() - timedelta(minutes=5)
    )
    with StubGoogle(token_delay=0.25) as stub:
        workers = start_workers(account.pk, stub.token_url)
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0
            results.append(json.loads(out))

        assert stub.count("token") == 1
    stored = GoogleAccount.objects.get(pk=account.pk).access_token
    assert stored.startswith("ya29.STUB-")
    assert [r["token"] for r in results] == [stored] * PROCESSES
