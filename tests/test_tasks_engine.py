"""The bulk tasks' chunks on the async engine (store/bulk.py) inside a task:
Celery in eager mode and django.tasks' ImmediateBackend, against a stand-in
Google on 127.0.0.1 that answers after DELAY seconds.

The same chunk run on the thread pool (``BULK_CONCURRENCY`` None) must come
to the same counts and retry the same accounts.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from datetime import timedelta

import pytest
from celery import Celery
from celery._state import get_current_app
from celery.app.task import Task
from celery.exceptions import Retry
from django.utils import timezone

from google_connect import tasks
from google_connect.conf import get_settings
from google_connect.google import retry
from google_connect.models import GoogleAccount
from google_connect.store import bulk, jobs
from tests.factories import make_account
from tests.stub_google import StubGoogle

pytestmark = pytest.mark.django_db(transaction=True)

DELAY = 0.1
CHUNK = 20
ENGINES = {"async": 64, "threads": None}
NO_UNDECRYPTABLE = {"undecryptable_kept": 0, "undecryptable_cleared": 0}


@pytest.fixture(autouse=True)
def eager_app():
    """A Celery app that runs every task at once, in this process (as tests/test_tasks.py)."""
    previous = get_current_app()
    app = Celery("google_connect_engine_eager", set_as_current=False)
    app.conf.update(
        task_always_eager=True,
        task_eager_propagates=False,
        broker_url="memory://",
        result_backend="cache+memory://",
    )
    app.set_current()
    app.finalize()
    yield app
    previous.set_current()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """In-process retries, sync and async, not slept."""

    async def no_wait(seconds):
        return None

    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    monkeypatch.setattr(retry, "asleep", no_wait)


@pytest.fixture
def stand_in(settings):
    with StubGoogle(token_delay=DELAY, revoke_delay=DELAY) as stub:
        settings.GOOGLE_CONNECT = {
            **settings.GOOGLE_CONNECT,
            "TOKEN_URL": stub.token_url,
            "REVOKE_URL": stub.revoke_url,
        }
        yield stub


def on(settings, engine):
    """Chunks on ``engine`` (``async`` or ``threads``), or at this BULK_CONCURRENCY."""
    value = ENGINES.get(engine, engine)
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "BULK_CONCURRENCY": value}


@pytest.fixture
def retries(monkeypatch):
    """The ids of every Celery retry asked for."""
    seen: list[list[int]] = []
    original = Task.retry

    def spy(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except Retry as ret:
            seen.append(list(ret.sig.kwargs["ids"]))
            raise

    monkeypatch.setattr(Task, "retry", spy)
    return seen


def expiring(count=1, **fields):
    return [
        make_account(expires_at=timezone.now() + timedelta(seconds=120), **fields)
        for _ in range(count)
    ]


def ids(accounts):
    return [account.pk for account in accounts]


def a_mixed_chunk(stand_in):
    """Accounts to refresh, one fresh, one marked, one whose grant Google revoked."""
    due = expiring(4)
    fresh = make_account(expires_at=timezone.now() + timedelta(hours=1))
    marked = expiring(status=GoogleAccount.Status.RECONNECT_REQUIRED)[0]
    dead = expiring()[0]
    stand_in.revoked.add(dead.refresh_token)
    return due, [*due, fresh, marked, dead], dead


# -- Celery ------------------------------------------------------------------------


def test_a_celery_chunk_on_the_async_engine_overlaps_its_calls(settings, stand_in):
    on(settings, "async")
    accounts = expiring(CHUNK)

    counts = tasks.refresh_accounts.delay(ids(accounts)).get()

    assert counts == {"refreshed": CHUNK, "already_fresh": 0, "reconnect_required": 0, "failed": 0}
    assert stand_in.count("token") == CHUNK
    assert set(stand_in.refresh_calls.values()) == {1}
    # The calls waited at the stand-in together, not one after another.
    assert stand_in.most_token_calls_in_flight >= 8
    assert not GoogleAccount.objects.filter(expires_at__lt=timezone.now() + timedelta(minutes=50))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_mixed_celery_chunk_counts_the_same_on_either_engine(settings, stand_in, engine):
    on(settings, engine)
    due, chunk, dead = a_mixed_chunk(stand_in)

    counts = tasks.refresh_accounts.delay(ids(chunk)).get()

    assert counts == {"refreshed": 4, "already_fresh": 1, "reconnect_required": 2, "failed": 0}
    assert stand_in.count("token") == 5
    assert GoogleAccount.objects.get(pk=dead.pk).status == GoogleAccount.Status.RECONNECT_REQUIRED


def test_a_bulk_concurrency_of_one_keeps_one_call_in_flight(settings, stand_in):
    on(settings, 1)
    accounts = expiring(4)

    counts = tasks.refresh_accounts.delay(ids(accounts)).get()

    assert counts["refreshed"] == 4
    assert stand_in.most_token_calls_in_flight == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_temporary_failure_retries_the_same_accounts_on_either_engine(
    settings, stand_in, retries, engine
):
    on(settings, engine)
    ok, flaky = expiring(2)
    # One attempt tries an account 1 + retry.MAX_RETRIES times in-process.
    stand_in.unavailable[flaky.refresh_token] = retry.MAX_RETRIES + 1

    counts = tasks.refresh_accounts.delay([ok.pk, flaky.pk]).get()

    assert counts == {"refreshed": 2, "already_fresh": 0, "reconnect_required": 0, "failed": 0}
    assert retries == [[flaky.pk]]
    assert stand_in.refresh_calls[ok.refresh_token] == 1
    assert stand_in.refresh_calls[flaky.refresh_token] == retry.MAX_RETRIES + 2


@pytest.mark.parametrize("engine", ENGINES)
def test_a_revoke_chunk_counts_and_retries_the_same_on_either_engine(
    settings, stand_in, retries, engine
):
    on(settings, engine)
    size = CHUNK if engine == "async" else 4  # one call at a time on SQLite's one thread
    accounts = [make_account() for _ in range(size)]
    flaky = accounts[0]
    stand_in.unavailable[flaky.refresh_token] = retry.MAX_RETRIES + 1

    counts = tasks.revoke_accounts.delay([*ids(accounts), 10**9]).get()

    assert counts == {
        "revoked": size,
        "already_revoked": 0,
        "gone": 1,
        "failed": 0,
        **NO_UNDECRYPTABLE,
    }
    assert retries == [[flaky.pk]]
    assert stand_in.revoked == {a.refresh_token for a in accounts}
    assert not GoogleAccount.objects.exists()
    if engine == "async":
        assert stand_in.most_revoke_calls_in_flight >= 8


def test_keep_alive_on_the_async_engine_overlaps_its_calls(settings, stand_in):
    on(settings, "async")
    idle = [
        make_account(last_refreshed_at=timezone.now() - timedelta(days=160)) for _ in range(CHUNK)
    ]
    make_account(last_refreshed_at=timezone.now() - timedelta(days=3))

    counts = tasks.keep_alive.delay().get()

    assert counts == {"refreshed": CHUNK, "reconnect_required": 0, "failed": 0}
    assert set(stand_in.refresh_calls) == {a.refresh_token for a in idle}
    assert stand_in.most_token_calls_in_flight >= 8


def test_without_aiohttp_the_chunk_runs_on_its_thread_pool(settings, stand_in, monkeypatch):
    import google_connect.google
    import google_connect.store

    on(settings, "async")
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    for package, name in ((google_connect.google, "aio"), (google_connect.store, "bulk")):
        monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}")
        monkeypatch.delattr(package, name)
    ran = []
    monkeypatch.setattr(
        jobs, "run_per_account", lambda work, accounts, **kw: ran.append(len(accounts)) or []
    )

    assert jobs.async_engine() is None
    tasks.refresh_accounts.delay(ids(expiring(3))).get()
    assert ran == [3]


def test_a_bulk_concurrency_of_none_runs_the_thread_pool(settings):
    on(settings, "threads")

    assert jobs.async_engine() is None


def test_a_malformed_bulk_concurrency_runs_the_thread_pool_until_the_check_is_fixed(settings):
    on(settings, 0)

    assert get_settings().BULK_CONCURRENCY is None
    assert jobs.async_engine() is None


# -- event loops ---------------------------------------------------------------------


def test_bulk_run_in_a_thread_with_a_running_loop_says_to_await_instead():
    async def inside_a_loop():
        coroutine = bulk.refresh_accounts(GoogleAccount.objects.none())
        bulk.run(coroutine)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine was never awaited"
        with pytest.raises(RuntimeError, match="await the bulk coroutine there instead"):
            asyncio.run(inside_a_loop())


def test_a_chunk_run_inline_under_a_running_loop_falls_back_to_threads(
    settings, stand_in, monkeypatch
):
    on(settings, "async")
    # Sync ORM calls under a running loop, as an async caller running the task inline.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    accounts = expiring(2)

    async def inline():
        return jobs.async_engine(), tasks.refresh_accounts.delay(ids(accounts)).get()

    engine, counts = asyncio.run(inline())

    assert engine is None
    assert counts["refreshed"] == 2
    assert jobs.async_engine() == (bulk, 64)


# -- django.tasks --------------------------------------------------------------------


@pytest.fixture
def background_tasks():
    return pytest.importorskip(
        "google_connect.background_tasks", reason="needs Django 6.0+ or the django-tasks backport"
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_django_task_chunk_counts_the_same_on_either_engine(
    settings, stand_in, background_tasks, engine
):
    on(settings, engine)
    due, chunk, _dead = a_mixed_chunk(stand_in)
    # Enough to overlap on the engine; the thread pool takes one at a time.
    more = expiring(CHUNK - len(due) if engine == "async" else 0)

    result = background_tasks.enqueue(background_tasks.refresh_accounts, ids([*chunk, *more]))

    assert result.status == "SUCCESSFUL", result.errors
    assert result.return_value == {
        "refreshed": len(due) + len(more),
        "already_fresh": 1,
        "reconnect_required": 2,
        "failed": 0,
        "requeued": 0,
    }
    assert stand_in.count("token") == len(due) + len(more) + 1
    if engine == "async":
        assert stand_in.most_token_calls_in_flight >= 8
    else:
        assert stand_in.most_token_calls_in_flight == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_django_task_defers_the_same_accounts_on_either_engine(
    settings, stand_in, background_tasks, engine
):
    dummy = settings.TASKS["default"]["BACKEND"].replace("immediate.ImmediateBackend", "dummy")
    settings.TASKS = {**settings.TASKS, "queued": {"BACKEND": f"{dummy}.DummyBackend"}}
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TASK_BACKEND": "queued"}
    on(settings, engine)
    queued = background_tasks.task_backends["queued"]
    queued.clear()
    ok, flaky = expiring(2)
    stand_in.unavailable[flaky.refresh_token] = retry.MAX_RETRIES + 1

    counts = background_tasks.refresh_accounts.call([ok.pk, flaky.pk])

    assert counts == {
        "refreshed": 1,
        "already_fresh": 0,
        "reconnect_required": 0,
        "failed": 0,
        "requeued": 1,
    }
    assert [result.args for result in queued.results] == [[[flaky.pk]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_account_another_caller_holds_is_waited_for_on_either_engine(settings, stand_in, engine):
    on(settings, engine)
    plain = expiring(2)
    # Another process's async refresh, in flight a little longer (store/lease.py).
    held = expiring(
        refresh_lease_until=timezone.now() + timedelta(seconds=0.3),
        refresh_lease_owner="another-process",
    )

    counts = tasks.refresh_accounts.delay(ids([*plain, *held])).get()

    assert counts == {"refreshed": 3, "already_fresh": 0, "reconnect_required": 0, "failed": 0}
    assert stand_in.count("token") == 3


@pytest.mark.django_db(transaction=False)
def test_a_chunk_run_inside_a_transaction_stays_on_the_calling_thread(settings, stand_in):
    # The test's own transaction, as an atomic request running a task inline:
    # the engine's database thread would not see these rows.
    on(settings, "async")
    accounts = expiring(2)

    counts = tasks.refresh_accounts.delay(ids(accounts)).get()

    assert jobs.async_engine() is None
    assert counts["refreshed"] == 2
