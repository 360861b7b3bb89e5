"""google_connect.tasks on Celery in eager mode (task_always_eager: no broker)."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from celery import Celery
from celery._state import get_current_app
from celery.app.task import Task
from celery.exceptions import Retry
from django.db import connection
from django.utils import timezone

from google_connect import tasks
from google_connect.google import retry
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_expiring
from tests.factories import make_account
from tests.support import TokenEndpoint, recording

pytestmark = pytest.mark.django_db

NAMES = {
    "google_connect.refresh_expiring",
    "google_connect.refresh_accounts",
    "google_connect.keep_alive",
    "google_connect.send_expiry_warnings",
    "google_connect.revoke_accounts",
    "google_connect.revoke_matching",
    "google_connect.rotate_token_keys",
    "google_connect.rotate_accounts",
    "google_connect.rotate_pending_revocations",
    "google_connect.retry_pending_revocations",
}
# The revoke chunk's counts of rows no key decrypts, when there are none.
NO_UNDECRYPTABLE = {"undecryptable_kept": 0, "undecryptable_cleared": 0}
CHUNKS = ("google_connect.refresh_accounts", "google_connect.revoke_accounts")


@pytest.fixture(autouse=True)
def eager_app():
    """A Celery app that runs every task at once, in this process, as the current app."""
    previous = get_current_app()
    app = Celery("google_connect_eager", set_as_current=False)
    app.conf.update(
        task_always_eager=True,
        # Eager retries run only when the Retry is not propagated; .get() still raises errors.
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
    """In-process retries (retry.with_retries) recorded, not slept."""
    waits: list[float] = []
    monkeypatch.setattr(retry, "sleep", waits.append)
    return waits


@pytest.fixture
def retries(monkeypatch):
    """Every Celery retry asked for: its countdown, kwargs, and whether a transaction was open."""
    seen: list[dict] = []
    original = Task.retry

    def spy(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except Retry as ret:
            seen.append(
                {
                    "countdown": ret.when,
                    "kwargs": ret.sig.kwargs,
                    "in_transaction": connection.in_atomic_block,
                }
            )
            raise

    monkeypatch.setattr(Task, "retry", spy)
    return seen


@pytest.fixture
def endpoint(google):
    return TokenEndpoint(google)


def expiring(**fields):
    return make_account(expires_at=timezone.now() + timedelta(seconds=120), **fields)


def fresh(**fields):
    return make_account(expires_at=timezone.now() + timedelta(hours=1), **fields)


def reloaded(account):
    return GoogleAccount.objects.get(pk=account.pk)


# -- the package ----------------------------------------------------------------


def test_importing_without_celery_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "celery", None)
    monkeypatch.delitem(sys.modules, "google_connect.tasks")
    with pytest.raises(ImportError, match=r"pip install 'google_connect\[celery\]'"):
        importlib.import_module("google_connect.tasks")


def test_every_task_has_its_stable_name_and_is_acknowledged_late(eager_app):
    registered = {name for name in eager_app.tasks if name.startswith("google_connect.")}
    assert registered == NAMES
    for name in NAMES:
        task = eager_app.tasks[name]
        assert task.acks_late is True, name
        assert task.ignore_result is False, name
    for name in CHUNKS:
        task = eager_app.tasks[name]
        assert task.autoretry_for == (tasks.StaleAccounts,)
        assert task.retry_backoff and task.max_retries == tasks.MAX_RETRIES


# -- refresh ----------------------------------------------------------------------


def test_refresh_expiring_refreshes_the_expiring_active_accounts_only(endpoint):
    due = [expiring() for _ in range(3)]
    later = [fresh() for _ in range(2)]
    broken = expiring(status=GoogleAccount.Status.RECONNECT_REQUIRED)

    counts = tasks.refresh_expiring.delay(chunk_size=2).get()

    assert counts == {"accounts": 3, "chunks": 2}
    assert sorted(endpoint.calls) == sorted(a.refresh_token for a in due)
    for account in due:
        assert reloaded(account).expires_at > timezone.now() + timedelta(minutes=50)
    for account in [*later, broken]:
        assert reloaded(account).access_token == account.access_token


def test_refresh_accounts_counts_each_outcome(endpoint):
    due, later = expiring(), fresh()
    marked = expiring(status=GoogleAccount.Status.RECONNECT_REQUIRED)
    dead, refused = expiring(), expiring()
    endpoint.always[dead.refresh_token] = (400, {}, '{"error": "invalid_grant"}')
    endpoint.always[refused.refresh_token] = (400, {}, '{"error": "invalid_request"}')
    ids = [a.pk for a in (due, later, marked, dead, refused)]

    counts = tasks.refresh_accounts.delay(ids).get()

    assert counts == {"refreshed": 1, "already_fresh": 1, "reconnect_required": 2, "failed": 1}
    assert reloaded(dead).status == GoogleAccount.Status.RECONNECT_REQUIRED


def test_refresh_accounts_uses_its_window(endpoint):
    soon = make_account(expires_at=timezone.now() + timedelta(minutes=20))

    assert tasks.refresh_accounts.delay([soon.pk]).get()["already_fresh"] == 1
    assert tasks.refresh_accounts.delay([soon.pk], within_seconds=1800).get()["refreshed"] == 1
    assert endpoint.calls == [soon.refresh_token]


def test_a_chunk_run_twice_calls_google_once_per_account(endpoint):
    due = [expiring() for _ in range(4)]
    ids = [a.pk for a in due]

    first = tasks.refresh_accounts.delay(ids).get()
    second = tasks.refresh_accounts.delay(ids).get()

    assert first["refreshed"] == 4
    assert second == {"refreshed": 0, "already_fresh": 4, "reconnect_required": 0, "failed": 0}
    assert len(endpoint.calls) == 4


def test_a_window_beyond_half_a_token_lifetime_is_refused():
    with pytest.raises(ValueError, match="within_seconds must be between 1 and 1800"):
        tasks.refresh_expiring.delay(within_seconds=3600).get()


def test_a_temporary_failure_retries_only_the_stale_accounts(endpoint, retries):
    ok, flaky = expiring(), expiring()
    # One chunk attempt tries an account 1 + retry.MAX_RETRIES times in-process.
    endpoint.unavailable(flaky.refresh_token, times=retry.MAX_RETRIES + 1)

    counts = tasks.refresh_accounts.delay([ok.pk, flaky.pk]).get()

    assert counts == {"refreshed": 2, "already_fresh": 0, "reconnect_required": 0, "failed": 0}
    assert endpoint.calls_for(ok) == 1
    assert [r["kwargs"]["ids"] for r in retries] == [[flaky.pk]]
    assert retries[0]["kwargs"]["counted"]["refreshed"] == 1


def test_after_the_last_retry_the_stale_accounts_count_as_failed(endpoint, retries):
    ok, down = expiring(), expiring()
    endpoint.always[down.refresh_token] = (503, {}, "{}")

    counts = tasks.refresh_accounts.delay([ok.pk, down.pk]).get()

    assert counts == {"refreshed": 1, "already_fresh": 0, "reconnect_required": 0, "failed": 1}
    assert len(retries) == tasks.MAX_RETRIES
    assert endpoint.calls_for(down) == (tasks.MAX_RETRIES + 1) * (retry.MAX_RETRIES + 1)
    assert endpoint.calls_for(ok) == 1


def test_failures_are_logged_and_counted_without_a_token(endpoint, caplog):
    down, refused = expiring(), expiring()
    endpoint.always[down.refresh_token] = (503, {}, "{}")
    endpoint.always[refused.refresh_token] = (400, {}, '{"error": "invalid_request"}')

    counts = tasks.refresh_accounts.delay([down.pk, refused.pk]).get()

    assert counts["failed"] == 2
    assert f"account_id={down.pk}" in caplog.text and f"account_id={refused.pk}" in caplog.text
    for account in (down, refused):
        for secret in (account.access_token, account.refresh_token):
            assert secret not in caplog.text and secret not in json.dumps(counts)


def test_a_retry_comes_no_sooner_than_google_asked(endpoint, retries, no_backoff):
    slow = expiring()
    endpoint.answers[slow.refresh_token] = [(429, {"Retry-After": "120"}, "{}")]

    counts = tasks.refresh_accounts.delay([slow.pk]).get()

    assert counts["refreshed"] == 1
    assert [r["countdown"] >= 120 for r in retries] == [True]
    # Not waited for in-process either: the task was retried later instead.
    assert no_backoff == []


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_held_while_a_retry_waits(endpoint, retries):
    flaky = expiring()
    endpoint.unavailable(flaky.refresh_token, times=retry.MAX_RETRIES + 1)

    tasks.refresh_accounts.delay([flaky.pk]).get()

    assert [r["in_transaction"] for r in retries] == [False]


# -- keep-alive and expiry warnings (google_connect.grants, from the grants issue) ----


def test_keep_alive_refreshes_the_idle_accounts_through_grants(endpoint):
    idle = fresh(last_refreshed_at=timezone.now() - timedelta(days=160))
    busy = fresh(last_refreshed_at=timezone.now() - timedelta(days=3))

    counts = tasks.keep_alive.delay(chunk_size=200).get()

    assert counts == {"refreshed": 1, "reconnect_required": 0, "failed": 0}
    assert (endpoint.calls_for(idle), endpoint.calls_for(busy)) == (1, 0)
    assert reloaded(idle).last_refreshed_at > timezone.now() - timedelta(minutes=1)


def test_send_expiry_warnings_warns_once_per_grant_through_grants():
    ending = fresh(refresh_token_expires_at=timezone.now() + timedelta(days=2))
    fresh(refresh_token_expires_at=timezone.now() + timedelta(days=60))

    with recording(google_account_expiring) as sent:
        first = tasks.send_expiry_warnings.delay().get()
        second = tasks.send_expiry_warnings.delay().get()

    assert (first["warned"], second["warned"]) == (1, 0)
    assert [kwargs["account"].pk for kwargs in sent] == [ending.pk]


# -- revocation ---------------------------------------------------------------------


class RevokeEndpoint:
    def __init__(self, google):
        self.tokens: list[str] = []
        self.failing: dict[str, int] = {}
        google.mock.add_callback("POST", google.config.REVOKE_URL, callback=self)

    def __call__(self, request):
        token = parse_qs(request.body)["token"][0]
        self.tokens.append(token)
        if self.failing.get(token):
            self.failing[token] -= 1
            return 503, {}, "{}"
        return 200, {}, "{}"


@pytest.fixture
def revoke_endpoint(google):
    return RevokeEndpoint(google)


def test_revoke_matching_selects_as_the_command_does(revoke_endpoint, user, other_user):
    alices = [make_account(user) for _ in range(3)]
    bobs = make_account(other_user)

    counts = tasks.revoke_matching.delay(user="alice", chunk_size=2).get()

    assert counts == {"accounts": 3, "chunks": 2}
    assert sorted(revoke_endpoint.tokens) == sorted(a.refresh_token for a in alices)
    assert list(GoogleAccount.objects.values_list("pk", flat=True)) == [bobs.pk]


def test_revoke_matching_refuses_what_the_command_refuses():
    make_account()
    with pytest.raises(ValueError, match="Say which accounts to revoke"):
        tasks.revoke_matching.delay().get()
    with pytest.raises(ValueError, match="--all cannot be combined"):
        tasks.revoke_matching.delay(all=True, email="x@example.com").get()
    with pytest.raises(ValueError, match="Unknown selection everyone"):
        tasks.revoke_matching.delay(everyone=True).get()
    assert GoogleAccount.objects.count() == 1


@pytest.mark.parametrize("keep_local", [False, True])
def test_revoke_accounts_run_twice_revokes_once(revoke_endpoint, keep_local):
    accounts = [make_account() for _ in range(3)]
    ids = [a.pk for a in accounts]

    first = tasks.revoke_accounts.delay(ids, keep_local=keep_local).get()
    second = tasks.revoke_accounts.delay(ids, keep_local=keep_local).get()

    assert first == {"revoked": 3, "already_revoked": 0, "gone": 0, "failed": 0, **NO_UNDECRYPTABLE}
    if keep_local:
        assert second == {
            "revoked": 0,
            "already_revoked": 3,
            "gone": 0,
            "failed": 0,
            **NO_UNDECRYPTABLE,
        }
    else:
        assert second == {
            "revoked": 0,
            "already_revoked": 0,
            "gone": 3,
            "failed": 0,
            **NO_UNDECRYPTABLE,
        }
    assert len(revoke_endpoint.tokens) == 3


def test_a_revocation_that_failed_temporarily_is_retried_alone(revoke_endpoint, retries):
    ok, flaky = make_account(), make_account()
    revoke_endpoint.failing[flaky.refresh_token] = retry.MAX_RETRIES + 1

    counts = tasks.revoke_accounts.delay([ok.pk, flaky.pk]).get()

    assert counts == {
        "revoked": 2,
        "already_revoked": 0,
        "gone": 0,
        "failed": 0,
        **NO_UNDECRYPTABLE,
    }
    assert revoke_endpoint.tokens.count(ok.refresh_token) == 1
    assert [r["kwargs"]["ids"] for r in retries] == [[flaky.pk]]
    assert not GoogleAccount.objects.exists()


# -- key rotation ---------------------------------------------------------------------


def test_rotate_token_keys_re_encrypts_every_account_in_chunks(settings):
    from google_connect.store.rotation import CURRENT, _ciphertexts, classify

    settings.FERNET_KEYS = ["old-key"]
    accounts = [make_account() for _ in range(5)]
    settings.FERNET_KEYS = ["new-key", "old-key"]

    assert tasks.rotate_token_keys.delay(chunk_size=2).get() == {
        "accounts": 5,
        "chunks": 3,
        "pending_revocations": 0,
    }

    assert {classify(tuple(row[2:])) for row in _ciphertexts("default")} == {CURRENT}
    ids = [a.pk for a in accounts]
    again = tasks.rotate_accounts.delay(ids).get()
    assert again == {"rotated": 0, "current": 5, "undecryptable": 0}


def test_rotate_token_keys_re_encrypts_pending_revocations_in_chunks_too(settings):
    from google_connect.store.pending_revocation import PendingRevocation
    from google_connect.store.rotation import CURRENT, _ciphertexts, classify

    settings.FERNET_KEYS = ["old-key"]
    make_account()
    pending = [
        PendingRevocation.objects.create(token=f"1//PENDING-{n}", sub=f"gone-{n}") for n in range(3)
    ]
    settings.FERNET_KEYS = ["new-key", "old-key"]

    queued = tasks.rotate_token_keys.delay(chunk_size=2).get()

    assert queued == {"accounts": 1, "chunks": 3, "pending_revocations": 3}
    rows = _ciphertexts("default", PendingRevocation)
    assert {classify(tuple(row[2:])) for row in rows} == {CURRENT}
    settings.FERNET_KEYS = ["new-key"]
    assert [p.token for p in PendingRevocation.objects.order_by("pk")] == [
        "1//PENDING-0",
        "1//PENDING-1",
        "1//PENDING-2",
    ]
    again = tasks.rotate_pending_revocations.delay([p.pk for p in pending]).get()
    assert again == {"rotated": 0, "current": 3, "undecryptable": 0}


def test_rotate_pending_revocations_counts_an_undecryptable_one(settings, caplog):
    from google_connect.store.pending_revocation import PendingRevocation

    settings.FERNET_KEYS = ["a-key-nobody-kept"]
    lost = PendingRevocation.objects.create(token="1//LOST", sub="gone")
    settings.FERNET_KEYS = ["new-key"]

    counts = tasks.rotate_pending_revocations.delay([lost.pk]).get()

    assert counts == {"rotated": 0, "current": 0, "undecryptable": 1}
    assert f"pending_revocation_id={lost.pk}" in caplog.text
    assert "1//LOST" not in caplog.text


# -- Retry-After ------------------------------------------------------------------------


def test_an_in_process_retry_waits_at_least_a_short_retry_after(endpoint, no_backoff):
    account = expiring()
    endpoint.answers[account.refresh_token] = [(503, {"Retry-After": "3"}, "{}")]

    assert tasks.refresh_accounts.delay([account.pk]).get()["refreshed"] == 1
    assert len(no_backoff) == 1 and no_backoff[0] >= 3


def test_the_example_project_schedules_keep_alive_and_warnings_daily(monkeypatch):
    monkeypatch.delenv("PROACTIVE_REFRESH", raising=False)
    from example_project.celery import app

    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {
        "google_connect.keep_alive",
        "google_connect.send_expiry_warnings",
        "google_connect.retry_pending_revocations",
    }
    daily = [
        e for e in schedule.values() if e["task"] != "google_connect.retry_pending_revocations"
    ]
    assert all(entry["schedule"].hour == {3} for entry in daily)
    assert schedule["google-connect-retry-pending-revocations"]["schedule"] == timedelta(minutes=5)
    app.loader.import_default_modules()
    assert NAMES <= set(app.tasks)


class ReadsElsewhere:
    """Reads of google_connect's rows routed to a database that does not exist:
    any read not on the write database fails loudly."""

    def db_for_read(self, model, **hints):
        return "nowhere" if model._meta.app_label == "google_connect" else None


def test_chunks_act_on_the_database_accounts_are_written_to(endpoint, revoke_endpoint, settings):
    stale, gone = expiring(), expiring()
    settings.DATABASE_ROUTERS = [ReadsElsewhere()]

    refreshed = tasks.refresh_accounts.delay([stale.pk]).get()
    revoked = tasks.revoke_accounts.delay([gone.pk]).get()

    assert (refreshed["refreshed"], revoked["revoked"]) == (1, 1)


# -- found by mutation testing (issue 22) ----------------------------------------------


@pytest.mark.parametrize(
    ("task", "kwargs"),
    [
        ("refresh_expiring", {}),
        ("revoke_matching", {"all": True}),
        ("rotate_token_keys", {}),
    ],
)
def test_a_chunk_size_of_zero_is_refused_not_a_run_that_queues_nothing(task, kwargs):
    expiring()

    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        getattr(tasks, task).delay(chunk_size=0, **kwargs).get()
    assert GoogleAccount.objects.count() == 1


def test_a_plain_revoke_after_keep_local_keeps_the_blanked_rows(revoke_endpoint):
    accounts = [make_account() for _ in range(2)]
    ids = [a.pk for a in accounts]

    first = tasks.revoke_accounts.delay(ids, keep_local=True).get()
    second = tasks.revoke_accounts.delay(ids).get()

    undecryptable = {"undecryptable_kept": 0, "undecryptable_cleared": 0}
    assert first == {"revoked": 2, "already_revoked": 0, "gone": 0, "failed": 0, **undecryptable}
    assert second == {"revoked": 0, "already_revoked": 2, "gone": 0, "failed": 0, **undecryptable}
    assert sorted(GoogleAccount.objects.values_list("pk", flat=True)) == sorted(ids)
    assert len(revoke_endpoint.tokens) == 2


# -- rows no key decrypts (issue 22, item 4) --------------------------------------------


@pytest.fixture
def undecryptable(settings):
    settings.FERNET_KEYS = ["a-key-since-removed"]
    account = make_account()
    settings.FERNET_KEYS = ["tests-fernet-key-one"]
    return account


def test_revoke_accounts_keeps_undecryptable_rows_without_failing(revoke_endpoint, undecryptable):
    counts = tasks.revoke_accounts.delay([undecryptable.pk]).get()

    assert counts == {
        "revoked": 0,
        "already_revoked": 0,
        "gone": 0,
        "failed": 0,
        "undecryptable_kept": 1,
        "undecryptable_cleared": 0,
    }
    assert GoogleAccount.objects.filter(pk=undecryptable.pk, status="active").exists()


def test_revoke_matching_with_include_undecryptable_removes_them(revoke_endpoint, undecryptable):
    tasks.revoke_matching.delay(all=True, include_undecryptable=True).get()

    assert revoke_endpoint.tokens == []
    assert not GoogleAccount.objects.exists()


def test_revoke_accounts_with_include_undecryptable_and_keep_local_marks_them(
    revoke_endpoint, undecryptable
):
    counts = tasks.revoke_accounts.delay(
        [undecryptable.pk], keep_local=True, include_undecryptable=True
    ).get()

    assert counts["undecryptable_cleared"] == 1
    assert GoogleAccount.objects.get().status == GoogleAccount.Status.RECONNECT_REQUIRED
