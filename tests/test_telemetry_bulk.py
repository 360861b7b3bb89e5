"""OpenTelemetry: one ``google_connect.bulk.*`` span per bulk run or task chunk,
the per-account spans and HTTP calls below it, on every engine."""

import asyncio
import json
import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from opentelemetry.trace import SpanKind

from google_connect.exceptions import GoogleAPIError
from google_connect.google import retry, telemetry
from google_connect.models import GoogleAccount
from google_connect.store import bulk, jobs, revocation, tokens, upkeep
from google_connect.store.rotation import rotate_keys
from tests.factories import make_account
from tests.stub_google import StubGoogle
from tests.telemetry_support import EXPORTER, READER, set_providers

pytestmark = pytest.mark.django_db
# Refreshing worker threads and asgiref's database thread have connections of
# their own: they see only committed rows.
committed = pytest.mark.django_db(transaction=True)

WINDOW = timedelta(minutes=10)


@pytest.fixture(scope="module", autouse=True)
def providers():
    set_providers()


@pytest.fixture
def spans():
    EXPORTER.clear()
    READER.get_metrics_data()
    yield EXPORTER
    EXPORTER.clear()


@pytest.fixture(scope="module")
def server():
    # One for the module: stopping one takes half a second (its poll interval).
    with StubGoogle(token_delay=0) as stub:
        yield stub


@pytest.fixture
def stand_in(server, settings):
    server.revoked.clear()
    server.counts = dict.fromkeys(server.counts, 0)
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "TOKEN_URL": server.token_url,
        "REVOKE_URL": server.revoke_url,
    }
    return server


@pytest.fixture
def threads_on_sqlite_too(monkeypatch):
    """Three worker threads on every database. On SQLite the refreshes are
    serialised by a lock (its one write lock would otherwise fail them), but
    each still runs on a worker thread: the context must cross over."""
    monkeypatch.setattr(upkeep, "one_worker_on_sqlite", lambda workers, db: None)
    monkeypatch.setattr(revocation, "one_worker_on_sqlite", lambda workers, db: None)
    real_refresh, lock, ran_on = tokens.refresh, threading.Lock(), []

    def refresh(account, **kwargs):
        with lock:
            ran_on.append(threading.current_thread().name)
            return real_refresh(account, **kwargs)

    monkeypatch.setattr(tokens, "refresh", refresh)
    return ran_on


def secret_accounts(count, **fields):
    return [
        make_account(
            sub=f"sub-secret-{n}",
            email=f"secret{n}@example.com",
            access_token=f"ya29.SECRET-ACCESS-{n}",
            refresh_token=f"1//SECRET-REFRESH-{n}",
            expires_at=timezone.now() + timedelta(minutes=2),
            **fields,
        )
        for n in range(count)
    ]


def named(spans, name):
    return [s for s in spans if s.name == name]


def attributes(span):
    return dict(span.attributes)


def assert_one_tree(finished, root_name, child_name, children):
    """One ``root_name`` span, ``children`` ``child_name`` spans right below it,
    each with exactly one HTTP client span of its own, all in one trace."""
    (root,) = named(finished, root_name)
    below = named(finished, child_name)
    calls = [s for s in finished if s.kind == SpanKind.CLIENT]
    assert root.parent is None
    assert len(below) == children
    assert [s.parent.span_id for s in below] == [root.context.span_id] * children
    assert sorted(c.parent.span_id for c in calls) == sorted(s.context.span_id for s in below)
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}
    return root


def assert_no_secret(finished, accounts):
    text = json.dumps([json.loads(s.to_json()) for s in finished])
    secrets = [django_settings.GOOGLE_CONNECT["CLIENT_SECRET"], "ya29.", "1//"]
    for account in accounts:
        secrets += [account.email, account.sub]
    for secret in secrets:
        assert secret not in text


def expiring():
    return GoogleAccount.objects.expiring_within(WINDOW)


# -- refresh -----------------------------------------------------------------------


@committed
def test_an_async_bulk_refresh_is_one_span_above_each_refresh_and_its_call(stand_in, spans):
    accounts = secret_accounts(3)

    counts = bulk.run(bulk.refresh_accounts(expiring(), concurrency=3))

    assert counts == {"refreshed": 3, "reconnect_required": 0, "failed": 0}
    finished = spans.get_finished_spans()
    run = assert_one_tree(finished, "google_connect.bulk.refresh", "google_connect.refresh", 3)
    assert attributes(run) == {
        "google_connect.engine": "async",
        "google_connect.concurrency": 3,
        "google_connect.accounts": 3,
        "google_connect.refreshed": 3,
        "google_connect.reconnect_required": 0,
        "google_connect.failed": 0,
    }
    assert_no_secret(finished, accounts)


@committed
def test_a_threaded_bulk_refresh_carries_its_span_into_the_workers(
    stand_in, spans, threads_on_sqlite_too
):
    accounts = secret_accounts(3)

    # check_google_accounts --refresh-expiring --workers 3
    counts = jobs.refresh_expiring_here(workers=3, concurrency=None)

    assert counts == {"refreshed": 3, "already_fresh": 0, "reconnect_required": 0, "failed": 0}
    assert len(threads_on_sqlite_too) == 3
    assert all(name.startswith("google-keep-alive-") for name in threads_on_sqlite_too)
    finished = spans.get_finished_spans()
    run = assert_one_tree(finished, "google_connect.bulk.refresh", "google_connect.refresh", 3)
    assert attributes(run) == {
        "google_connect.engine": "threads",
        "google_connect.concurrency": 3,
        "google_connect.accounts": 3,
        "google_connect.refreshed": 3,
        "google_connect.already_fresh": 0,
        "google_connect.reconnect_required": 0,
        "google_connect.failed": 0,
    }
    assert_no_secret(finished, accounts)


@committed
def test_a_dead_grant_is_counted_on_the_bulk_span_and_named_on_its_refresh(stand_in, spans):
    (dead, _alive) = secret_accounts(2)
    stand_in.revoked.add("1//SECRET-REFRESH-0")

    bulk.run(bulk.refresh_accounts(expiring(), concurrency=2))

    finished = spans.get_finished_spans()
    (run,) = named(finished, "google_connect.bulk.refresh")
    assert run.attributes["google_connect.refreshed"] == 1
    assert run.attributes["google_connect.reconnect_required"] == 1
    (failed,) = [
        s for s in named(finished, "google_connect.refresh") if "error.type" in s.attributes
    ]
    assert failed.attributes["google_connect.reason"] == "invalid_grant"
    assert failed.attributes["error.type"] == "ReconnectRequired"
    assert_no_secret(finished, [dead])


# A task's chunk on each engine: the thread pool (the calling thread here), or
# the async engine, whose database thread sees only committed rows.
CHUNK_ENGINES = [
    pytest.param(None, id="threads"),
    pytest.param(64, id="async", marks=committed),
]


def chunks_on(settings, concurrency):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "BULK_CONCURRENCY": concurrency}


@pytest.mark.parametrize("concurrency", CHUNK_ENGINES)
def test_a_refresh_chunk_of_a_task_is_one_span_counting_this_attempt_only(
    stand_in, spans, settings, concurrency
):
    chunks_on(settings, concurrency)
    accounts = secret_accounts(3)
    fresh = make_account()

    outcome = jobs.refresh_accounts(
        [a.pk for a in accounts] + [fresh.pk], counted={"refreshed": 5, "failed": 1}
    )

    assert outcome.counts["refreshed"] == 8
    finished = spans.get_finished_spans()
    run = assert_one_tree(finished, "google_connect.bulk.refresh", "google_connect.refresh", 3)
    assert attributes(run) == {
        "google_connect.engine": "async" if concurrency else "serial",
        "google_connect.concurrency": concurrency or 1,
        "google_connect.accounts": 4,
        "google_connect.refreshed": 3,
        "google_connect.already_fresh": 1,
        "google_connect.reconnect_required": 0,
        "google_connect.failed": 0,
        "google_connect.failed_temporarily": 0,
    }


def test_a_keep_alive_run_is_one_span_above_each_refresh(stand_in, spans):
    long_ago = timezone.now() - timedelta(days=160)
    accounts = [make_account(last_refreshed_at=long_ago) for _ in range(2)]

    assert upkeep.keep_alive()["refreshed"] == 2

    finished = spans.get_finished_spans()
    run = assert_one_tree(finished, "google_connect.bulk.keep_alive", "google_connect.refresh", 2)
    assert attributes(run) == {
        "google_connect.engine": "serial",
        "google_connect.concurrency": 1,
        "google_connect.accounts": 2,
        "google_connect.refreshed": 2,
        "google_connect.reconnect_required": 0,
        "google_connect.failed": 0,
        "google_connect.skipped": 0,
    }
    assert_no_secret(finished, accounts)


def test_expiry_warnings_are_one_span_with_their_counts(spans):
    make_account(refresh_token_expires_at=timezone.now() + timedelta(days=2))
    make_account(refresh_token_expires_at=timezone.now() + timedelta(days=60))

    assert upkeep.send_expiry_warnings() == {"warned": 1, "failed": 0}

    (run,) = spans.get_finished_spans()
    assert run.name == "google_connect.bulk.expiry_warnings"
    assert attributes(run) == {
        "google_connect.engine": "serial",
        "google_connect.concurrency": 1,
        "google_connect.accounts": 1,
        "google_connect.warned": 1,
        "google_connect.failed": 0,
    }


# -- revoke --------------------------------------------------------------------------

REVOKED_ALL = {
    "google_connect.accounts": 3,
    "google_connect.revoked": 3,
    "google_connect.already_revoked": 0,
    "google_connect.failed": 0,
    "google_connect.undecryptable_kept": 0,
    "google_connect.undecryptable_cleared": 0,
}


def test_a_threaded_bulk_revoke_carries_its_span_into_the_pool(
    stand_in, spans, threads_on_sqlite_too
):
    accounts = secret_accounts(3)

    report = revocation.revoke_accounts(GoogleAccount.objects.all(), workers=3)

    assert report.revoked == 3 and stand_in.count("revoke") == 3
    finished = spans.get_finished_spans()
    run = assert_one_tree(finished, "google_connect.bulk.revoke", "google_connect.revoke", 3)
    assert attributes(run) == {
        "google_connect.engine": "threads",
        "google_connect.concurrency": 3,
        **REVOKED_ALL,
    }
    assert_no_secret(finished, accounts)


@committed
def test_an_async_bulk_revoke_is_one_span_above_each_revocation(stand_in, spans):
    accounts = secret_accounts(3)

    report = bulk.run(bulk.revoke_accounts(GoogleAccount.objects.all(), concurrency=3))

    assert report.revoked == 3
    finished = spans.get_finished_spans()
    run = assert_one_tree(finished, "google_connect.bulk.revoke", "google_connect.revoke", 3)
    assert attributes(run) == {
        "google_connect.engine": "async",
        "google_connect.concurrency": 3,
        **REVOKED_ALL,
    }
    assert_no_secret(finished, accounts)


@pytest.mark.parametrize("concurrency", CHUNK_ENGINES)
def test_a_revoke_chunk_of_a_task_is_one_span_however_its_engine_runs(
    stand_in, spans, settings, concurrency
):
    chunks_on(settings, concurrency)
    accounts = secret_accounts(2)
    gone = max(a.pk for a in accounts) + 1000

    outcome = jobs.revoke_accounts([a.pk for a in accounts] + [gone])

    assert outcome.counts["revoked"] == 2 and outcome.counts["gone"] == 1
    finished = spans.get_finished_spans()
    run = assert_one_tree(finished, "google_connect.bulk.revoke", "google_connect.revoke", 2)
    workers = 1 if connection.vendor == "sqlite" else jobs.REVOKE_WORKERS
    assert attributes(run) == {
        "google_connect.engine": "async" if concurrency else telemetry.engine_of(workers),
        "google_connect.concurrency": concurrency or workers,
        "google_connect.accounts": 3,
        "google_connect.revoked": 2,
        "google_connect.already_revoked": 0,
        "google_connect.gone": 1,
        "google_connect.failed": 0,
        "google_connect.undecryptable_kept": 0,
        "google_connect.undecryptable_cleared": 0,
        "google_connect.failed_temporarily": 0,
    }
    assert_no_secret(finished, accounts)


# -- rotation ------------------------------------------------------------------------


def test_a_key_rotation_is_one_span_with_its_counts(settings, spans):
    settings.FERNET_KEYS = ["old-fernet-key"]
    accounts = secret_accounts(3)
    settings.FERNET_KEYS = ["new-fernet-key", "old-fernet-key"]
    jobs.rotate_accounts([accounts[0].pk])
    EXPORTER.clear()

    report = rotate_keys()

    assert (report.rotated, report.current) == (2, 1)
    (run,) = spans.get_finished_spans()
    assert run.name == "google_connect.bulk.rotate_keys"
    assert attributes(run) == {
        "google_connect.engine": "serial",
        "google_connect.concurrency": 1,
        "google_connect.dry_run": False,
        "google_connect.accounts": 3,
        "google_connect.rotated": 2,
        "google_connect.current": 1,
        "google_connect.undecryptable": 0,
        "google_connect.pending_revocations": 0,
        "google_connect.pending_rotated": 0,
        "google_connect.pending_current": 0,
        "google_connect.pending_undecryptable": 0,
    }
    assert_no_secret([run], accounts)


def test_a_rotation_chunk_of_a_task_is_one_span(settings, spans):
    settings.FERNET_KEYS = ["old-fernet-key"]
    accounts = secret_accounts(2)
    settings.FERNET_KEYS = ["new-fernet-key", "old-fernet-key"]

    assert jobs.rotate_accounts([a.pk for a in accounts])["rotated"] == 2

    (run,) = spans.get_finished_spans()
    assert run.name == "google_connect.bulk.rotate_keys"
    assert run.attributes["google_connect.rotated"] == 2


# -- the async client ----------------------------------------------------------------


@committed
def test_the_async_client_s_span_and_duration_match_the_sync_one(stand_in, spans):
    from google_connect.store import aio

    account = make_account(expires_at=timezone.now() - timedelta(minutes=1))

    bulk.run(aio.aget_access_token(account))  # and closes the loop's session

    client_span, operation = spans.get_finished_spans()
    assert operation.name == "google_connect.refresh"
    assert dict(operation.attributes) == {"google_connect.client": "default"}
    assert client_span.parent.span_id == operation.context.span_id
    assert client_span.kind == SpanKind.CLIENT
    port = int(stand_in.url.rsplit(":", 1)[1])
    assert attributes(client_span) == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.full": stand_in.token_url,
        "http.response.status_code": 200,
    }
    data = READER.get_metrics_data()
    (metric,) = [
        m
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.name == "http.client.request.duration"
    ]
    ((point),) = metric.data.data_points
    assert dict(point.attributes) == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 200,
    }


def test_an_async_retry_is_its_own_span_with_its_resend_count(monkeypatch, spans):
    async def no_wait(seconds):
        pass

    monkeypatch.setattr(retry, "asleep", no_wait)
    attempts = []

    async def call():
        with telemetry.client_span("POST", "https://oauth2.googleapis.com/token"):
            attempts.append(1)
            if len(attempts) == 1:
                raise GoogleAPIError("busy", status_code=503, temporary=True)
            return "ok"

    assert asyncio.run(retry.awith_retries(call, what="refresh a token")) == "ok"

    first, second = spans.get_finished_spans()
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.request.resend_count"] == 1


# -- without the API -------------------------------------------------------------------


def test_without_the_api_bulk_spans_and_carried_context_are_no_ops(monkeypatch, spans):
    monkeypatch.setattr(telemetry, "_trace", None)
    monkeypatch.setattr(telemetry, "_metrics", None)
    monkeypatch.setattr(telemetry, "_context", None)

    def work():
        return "done"

    with telemetry.bulk("refresh", engine="threads", concurrency=2) as span:
        span.set_counts({"refreshed": 1})
        span.set_error("X")
        assert telemetry.carried(work) is work

    assert spans.get_finished_spans() == ()
