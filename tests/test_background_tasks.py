"""google_connect.background_tasks, eager: the ImmediateBackend runs each task at
enqueue time, in this process; the DummyBackend keeps what was queued, for
the deferred retries."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import timedelta
from io import StringIO

import django
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from google_connect.google import retry
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_expiring
from tests.factories import make_account
from tests.support import TokenEndpoint, recording

background_tasks = pytest.importorskip(
    "google_connect.background_tasks", reason="needs Django 6.0+ or the django-tasks backport"
)

pytestmark = pytest.mark.django_db

NAMES = {
    "refresh_expiring",
    "refresh_accounts",
    "keep_alive",
    "send_expiry_warnings",
    "revoke_accounts",
    "revoke_matching",
    "rotate_token_keys",
    "rotate_accounts",
    "rotate_pending_revocations",
    "retry_pending_revocations",
}
REFRESH_COUNTS = ("refreshed", "already_fresh", "reconnect_required", "failed", "requeued")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """In-process retries (retry.with_retries) not slept."""
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


@pytest.fixture
def endpoint(google):
    return TokenEndpoint(google)


@pytest.fixture
def queued(settings):
    """A backend that supports deferral and only records what is enqueued."""
    dummy = settings.TASKS["default"]["BACKEND"].replace("immediate.ImmediateBackend", "dummy")
    settings.TASKS = {**settings.TASKS, "queued": {"BACKEND": f"{dummy}.DummyBackend"}}
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TASK_BACKEND": "queued"}
    backend = background_tasks.task_backends["queued"]
    backend.clear()
    return backend


def expiring(**fields):
    return make_account(expires_at=timezone.now() + timedelta(seconds=120), **fields)


def fresh(**fields):
    return make_account(expires_at=timezone.now() + timedelta(hours=1), **fields)


def reloaded(account):
    return GoogleAccount.objects.get(pk=account.pk)


def run(task, *args, **kwargs):
    """Enqueue on the ImmediateBackend; the task's return value (raising its error)."""
    result = background_tasks.enqueue(task, *args, **kwargs)
    assert result.status == "SUCCESSFUL", result.errors
    return result.return_value


def counts(**nonzero):
    return {key: nonzero.get(key, 0) for key in REFRESH_COUNTS}


# -- the module -------------------------------------------------------------------


def test_importing_without_the_tasks_framework_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "django.tasks", None)
    monkeypatch.setitem(sys.modules, "django_tasks", None)
    monkeypatch.delitem(sys.modules, "google_connect.background_tasks")

    with pytest.raises(ModuleNotFoundError, match=r"pip install 'google-connect\[tasks\]'") as info:
        importlib.import_module("google_connect.background_tasks")

    # What pytest.importorskip skips on: a missing module, not a broken one.
    assert info.value.name == "django.tasks"


@pytest.mark.skipif(django.VERSION < (6, 0), reason="django.tasks is core from Django 6.0")
def test_on_django_6_the_core_framework_is_used_even_beside_the_backport():
    assert background_tasks.refresh_accounts.__class__.__module__ == "django.tasks.base"


def test_the_tasks_are_named_as_the_celery_tasks_under_a_stable_path():
    tasks = {
        name: getattr(background_tasks, name)
        for name in dir(background_tasks)
        if hasattr(getattr(background_tasks, name), "module_path")
    }

    assert set(tasks) == NAMES
    for name, task in tasks.items():
        assert task.module_path == f"google_connect.background_tasks.{name}"


def test_tasks_go_to_the_task_backend_setting(queued):
    background_tasks.enqueue(background_tasks.keep_alive, chunk_size=10)

    assert [(r.task.name, r.kwargs) for r in queued.results] == [("keep_alive", {"chunk_size": 10})]


# -- refresh ----------------------------------------------------------------------


def test_refresh_expiring_queues_its_chunks_when_the_transaction_commits(
    endpoint, django_capture_on_commit_callbacks
):
    due = [expiring() for _ in range(3)]
    later = fresh()

    with django_capture_on_commit_callbacks() as callbacks:
        fan_out = run(background_tasks.refresh_expiring, chunk_size=2)
        assert endpoint.calls == []
    for callback in callbacks:
        callback()

    assert fan_out == {"accounts": 3, "chunks": 2}
    assert sorted(endpoint.calls) == sorted(a.refresh_token for a in due)
    assert reloaded(later).access_token == later.access_token


def test_a_chunk_enqueued_twice_calls_google_once_per_account(endpoint):
    ids = [expiring().pk for _ in range(4)]

    first = run(background_tasks.refresh_accounts, ids)
    second = run(background_tasks.refresh_accounts, ids)

    assert first == counts(refreshed=4)
    assert second == counts(already_fresh=4)
    assert len(endpoint.calls) == 4


def test_on_the_immediate_backend_temporary_failures_count_as_failed(endpoint):
    ok, down = expiring(), expiring()
    endpoint.always[down.refresh_token] = (503, {}, "{}")

    result = run(background_tasks.refresh_accounts, [ok.pk, down.pk])

    assert result == counts(refreshed=1, failed=1)
    assert endpoint.calls_for(down) == retry.MAX_RETRIES + 1


def test_on_a_deferring_backend_the_failed_ids_are_requeued_later(
    endpoint, queued, django_capture_on_commit_callbacks
):
    ok, down = expiring(), expiring()
    endpoint.always[down.refresh_token] = (503, {}, "{}")
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        result = background_tasks.refresh_accounts.call([ok.pk, down.pk], within_seconds=900)

    assert result == counts(refreshed=1, requeued=1)
    [again] = queued.results
    assert (again.task.name, again.args) == ("refresh_accounts", [[down.pk]])
    assert again.kwargs == {"within_seconds": 900, "attempt": 1}
    assert before <= again.task.run_after <= timezone.now() + timedelta(seconds=2)


def test_a_requeued_chunk_waits_no_less_than_google_asked(
    endpoint, queued, django_capture_on_commit_callbacks
):
    slow = expiring()
    endpoint.answers[slow.refresh_token] = [(429, {"Retry-After": "120"}, "{}")] * 10

    with django_capture_on_commit_callbacks(execute=True):
        background_tasks.refresh_accounts.call([slow.pk])

    [again] = queued.results
    assert again.task.run_after >= timezone.now() + timedelta(seconds=115)


def test_after_the_last_attempt_the_stale_accounts_count_as_failed(endpoint, queued):
    down = expiring()
    endpoint.always[down.refresh_token] = (503, {}, "{}")

    result = background_tasks.refresh_accounts.call([down.pk], attempt=background_tasks.MAX_RETRIES)

    assert result == counts(failed=1)
    assert queued.results == []


# -- the other jobs -----------------------------------------------------------------


def test_revoke_matching_revokes_the_selection_in_chunks(
    google, user, other_user, django_capture_on_commit_callbacks
):
    revoked = []
    google.mock.add_callback(
        "POST", google.config.REVOKE_URL, callback=lambda r: revoked.append(r) or (200, {}, "{}")
    )
    alices = [make_account(user) for _ in range(3)]
    bobs = make_account(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        fan_out = run(background_tasks.revoke_matching, user=["alice"], chunk_size=2)

    assert fan_out == {"accounts": 3, "chunks": 2}
    assert len(revoked) == len(alices)
    assert list(GoogleAccount.objects.values_list("pk", flat=True)) == [bobs.pk]


def test_rotate_token_keys_queues_accounts_and_pending_revocations(
    django_capture_on_commit_callbacks,
):
    for _ in range(3):
        make_account()

    with django_capture_on_commit_callbacks(execute=True):
        fan_out = run(background_tasks.rotate_token_keys, chunk_size=2)

    assert fan_out == {"accounts": 3, "chunks": 2, "pending_revocations": 0}


def test_send_expiry_warnings_warns_once_per_grant():
    ending = fresh(refresh_token_expires_at=timezone.now() + timedelta(days=2))

    with recording(google_account_expiring) as sent:
        first = run(background_tasks.send_expiry_warnings)
        second = run(background_tasks.send_expiry_warnings)

    assert (first["warned"], second["warned"]) == (1, 0)
    assert [kwargs["account"].pk for kwargs in sent] == [ending.pk]


@pytest.mark.parametrize(
    "name", ["keep_alive", "send_expiry_warnings", "retry_pending_revocations"]
)
def test_results_survive_a_json_round_trip(name):
    result = run(getattr(background_tasks, name))

    assert json.loads(json.dumps(result)) == result


# -- enqueue_google_connect_jobs ------------------------------------------------------


def enqueue_jobs(*args):
    out, err = StringIO(), StringIO()
    call_command("enqueue_google_connect_jobs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_enqueues_the_daily_jobs(queued):
    out, _ = enqueue_jobs()

    assert [r.task.name for r in queued.results] == [
        "send_expiry_warnings",
        "keep_alive",
        "retry_pending_revocations",
    ]
    assert out.splitlines()[-1] == "3 jobs enqueued on 'queued'"


def test_the_command_says_one_job_in_the_singular(queued):
    out, _ = enqueue_jobs("--only", "keep_alive")

    assert out.splitlines()[-1] == "1 job enqueued on 'queued'"


def test_the_command_enqueues_only_the_jobs_named(queued):
    enqueue_jobs("--only", "refresh_expiring,keep_alive")

    assert [r.task.name for r in queued.results] == ["refresh_expiring", "keep_alive"]


def test_the_command_refuses_an_unknown_job(queued):
    with pytest.raises(CommandError, match="unknown: revoke_matching"):
        enqueue_jobs("--only", "revoke_matching")
    assert queued.results == []


def test_on_the_immediate_backend_the_command_runs_the_jobs(
    endpoint, django_capture_on_commit_callbacks
):
    due = expiring()

    with django_capture_on_commit_callbacks(execute=True):
        out, err = enqueue_jobs("--only", "refresh_expiring")

    assert "refresh_expiring: " in out and "(successful)" in out and err == ""
    assert endpoint.calls == [due.refresh_token]


def test_the_command_fails_when_an_immediate_job_fails(monkeypatch):
    def broken(chunk_size):
        raise RuntimeError("boom")

    monkeypatch.setattr(background_tasks.jobs, "keep_alive", broken)

    with pytest.raises(CommandError) as caught:
        enqueue_jobs("--only", "keep_alive")

    assert str(caught.value) == "1 job failed: keep_alive"


def test_the_command_counts_failed_jobs_in_the_plural(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(background_tasks.jobs, "keep_alive", broken)
    monkeypatch.setattr(background_tasks.jobs, "send_expiry_warnings", broken)

    with pytest.raises(CommandError) as caught:
        enqueue_jobs("--only", "keep_alive,send_expiry_warnings")

    assert str(caught.value) == "2 jobs failed: keep_alive, send_expiry_warnings"
