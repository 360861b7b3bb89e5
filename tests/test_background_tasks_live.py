"""google_connect.background_tasks on real workers: django-tasks-db on
PostgreSQL, two ``db_worker`` processes, and a stand-in token endpoint on
127.0.0.1 that answers after 100 ms.

Marked ``tasks_live`` and skipped unless pytest runs with ``--tasks-live``:
CI runs it once per run (.ci/run), not in every tox environment. With
``--tasks-live``, what would skip it (no django-tasks-db, no PostgreSQL)
fails it instead.
"""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from benchmarks import seed
from google_connect.models import GoogleAccount
from tests.stub_google import StubGoogle
from tests.task_workers import BACKEND, DbWorkers, wait_until_idle

# Imported here, not skipped at collection: with --tasks-live a missing
# package fails the tests (the postgres fixture), so .ci/run's stage cannot pass
# without running them.
try:
    import django_tasks_db  # noqa: F401 (the workers' backend)

    from google_connect import background_tasks
except ImportError as exc:
    MISSING: str | None = f"tasks_live needs django-tasks-db and Django's Tasks framework: {exc}"
else:
    MISSING = None

pytestmark = [pytest.mark.tasks_live, pytest.mark.django_db(transaction=True)]

EXPIRING, NOT_EXPIRING = 300, 50
REFRESHED = "google_connect.background_tasks.refresh_accounts"


def not_run(request, reason):
    """Skipped, or failed when --tasks-live asked for the live test, as the
    browser test fails rather than skips under CI=true (tests/e2e/conftest.py)."""
    if request.config.getoption("--tasks-live"):
        pytest.fail(f"{reason} (--tasks-live must run the live test, not skip it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def postgres(request, settings):
    if MISSING is not None:
        not_run(request, MISSING)
    if connection.vendor != "postgresql":
        not_run(
            request,
            "tasks_live needs PostgreSQL: the db_worker processes share the test database "
            "(set DATABASE_URL=postgres://...)",
        )
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TASK_BACKEND": BACKEND}


def fresh_count(ids):
    fresh_after = timezone.now() + timedelta(minutes=55)
    return GoogleAccount.objects.filter(pk__in=ids, expires_at__gt=fresh_after).count()


def chunk_results(rows):
    return [row.return_value for row in rows if row.task_path == REFRESHED]


def test_db_workers_call_google_once_per_account_and_a_chunk_enqueued_twice_adds_none(
    postgres, tmp_path
):
    due = seed.create_accounts(EXPIRING, expired=True, label="due")
    later = seed.create_accounts(NOT_EXPIRING, expired=False, label="later")
    before = {a.pk: a.access_token for a in GoogleAccount.objects.filter(pk__in=later)}

    with (
        StubGoogle(token_delay=0.1) as stub,
        DbWorkers(count=2, env={"STAND_IN_TOKEN_URL": stub.token_url}, log_dir=tmp_path) as w,
    ):
        fan_out = background_tasks.enqueue(background_tasks.refresh_expiring, chunk_size=50)
        first = wait_until_idle(w)
        calls_after_the_run = stub.count("token")
        chunk = sorted(due)[:50]
        for _ in range(2):
            background_tasks.enqueue(background_tasks.refresh_accounts, chunk)
        again = wait_until_idle(w)

    assert fan_out.id and calls_after_the_run == EXPIRING
    # The chunks ran on the async engine inside each task: more calls at once
    # than the two workers' one task each would make on the thread pool.
    assert stub.most_token_calls_in_flight > 2
    assert sum(r["refreshed"] for r in chunk_results(first)) == EXPIRING
    assert len(chunk_results(first)) == EXPIRING // 50
    assert stub.count("token") == EXPIRING
    repeats = chunk_results(again)[len(chunk_results(first)) :]
    assert len(repeats) == 2 and all(r["already_fresh"] == 50 for r in repeats)
    assert fresh_count(due) == EXPIRING
    for account in GoogleAccount.objects.filter(pk__in=before):
        assert account.access_token == before[account.pk]


def test_a_worker_killed_mid_chunk_loses_nothing_and_the_next_run_finishes_it(postgres, tmp_path):
    from django_tasks_db.models import DBTaskResult

    due = seed.create_accounts(EXPIRING, expired=True, label="due")

    # On the thread pool, where a chunk has one call in flight. On the async
    # engine a killed chunk loses up to BULK_CONCURRENCY calls in flight, and
    # the leases it claimed keep its accounts until they lapse, minutes later
    # (docs/howto/background-jobs.md).
    threads = {"GC_BULK_CONCURRENCY": "none"}
    with (
        StubGoogle(token_delay=0.1) as stub,
        DbWorkers(
            count=2, env={"STAND_IN_TOKEN_URL": stub.token_url, **threads}, log_dir=tmp_path
        ) as w,
    ):
        background_tasks.enqueue(background_tasks.refresh_expiring, chunk_size=100)
        victim = w.ids[0]
        deadline = time.monotonic() + 120
        while True:
            running = DBTaskResult.objects.filter(
                status="RUNNING", task_path=REFRESHED, worker_ids__contains=[victim]
            ).first()
            # Well into its chunk of 100: about 2 s of its 10.
            if running is not None and stub.count("token") >= 40:
                break
            assert time.monotonic() < deadline, "the victim never ran a chunk"
            time.sleep(0.05)
        w.kill(victim)
        wait_until_idle(w, ignore={str(running.id)})
        left = EXPIRING - fresh_count(due)

        out = StringIO()
        call_command("enqueue_google_connect_jobs", "--only", "refresh_expiring", stdout=out)
        wait_until_idle(w, ignore={str(running.id)})

    # django-tasks-db never runs a claimed task again: the killed chunk stays running.
    assert DBTaskResult.objects.get(id=running.id).status == "RUNNING"
    assert 0 < left < 100
    assert fresh_count(due) == EXPIRING
    # One call per account, but for the one whose refresh was in flight when the
    # worker died: its transaction never committed, so it was not refreshed.
    calls = stub.refresh_calls
    assert len(calls) == EXPIRING
    twice = [token for token, count in calls.items() if count > 1]
    assert len(twice) <= 1 and max(calls.values()) <= 2
    assert stub.count("token") == EXPIRING + len(twice)
