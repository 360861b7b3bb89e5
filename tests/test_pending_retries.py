"""Pending revocations are retried with backoff, capped, and reported (issue 22, item 9)."""

import json
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from google_connect.store import pending_revocation
from google_connect.store.pending_revocation import (
    MAX_ATTEMPTS,
    PendingRevocation,
    next_attempt_after,
    retry_pending_revocations,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_backoff")]


class RevokeEndpoint:
    def __init__(self, google):
        self.tokens: list[str] = []
        self.status = 200
        google.mock.add_callback("POST", google.config.REVOKE_URL, callback=self)

    def __call__(self, request):
        self.tokens.append(parse_qs(request.body)["token"][0])
        return self.status, {}, "{}"


@pytest.fixture
def revoke_endpoint(google):
    return RevokeEndpoint(google)


def pending(token="1//PENDING", **fields):  # noqa: S107 (a test token)
    row = PendingRevocation.objects.create(token=token, email="gone@example.com")
    if fields:
        PendingRevocation.objects.filter(pk=row.pk).update(**fields)
        row.refresh_from_db()
    return row


def check(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("check_google_accounts", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_backoff_starts_at_five_minutes_doubles_and_stops_at_a_day():
    assert [next_attempt_after(n) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
    ]
    assert next_attempt_after(9) == timedelta(minutes=1280)
    assert next_attempt_after(10) == timedelta(days=1)
    assert next_attempt_after(19) == timedelta(days=1)


def test_a_failure_counts_the_attempt_and_schedules_the_next(revoke_endpoint):
    row = pending(attempts=2)
    revoke_endpoint.status = 503
    before = timezone.now()

    report = retry_pending_revocations()

    assert report.as_dict() == {"revoked": 0, "already_revoked": 0, "failed": 1}
    row.refresh_from_db()
    assert row.attempts == 3
    assert before + timedelta(minutes=20) <= row.next_attempt_at
    assert row.next_attempt_at <= timezone.now() + timedelta(minutes=20)


def test_only_due_rows_are_retried(revoke_endpoint):
    due = pending("1//DUE", next_attempt_at=timezone.now() - timedelta(seconds=1))
    fresh = pending("1//NEVER-TRIED")
    pending("1//LATER", next_attempt_at=timezone.now() + timedelta(minutes=5))

    report = retry_pending_revocations()

    assert report.as_dict() == {"revoked": 2, "already_revoked": 0, "failed": 0}
    assert revoke_endpoint.tokens == [due.token, fresh.token]
    assert list(PendingRevocation.objects.values_list("token", flat=True)) == ["1//LATER"]


def test_rows_past_the_attempt_cap_are_kept_and_not_retried(revoke_endpoint):
    pending(attempts=MAX_ATTEMPTS)

    report = retry_pending_revocations()

    assert report.as_dict() == {"revoked": 0, "already_revoked": 0, "failed": 0}
    assert revoke_endpoint.tokens == []
    assert PendingRevocation.objects.get().attempts == MAX_ATTEMPTS


def test_the_command_retries_every_row_past_the_cap_and_not_yet_due_too(revoke_endpoint):
    pending("1//CAPPED", attempts=MAX_ATTEMPTS)
    pending("1//LATER", next_attempt_at=timezone.now() + timedelta(hours=1))

    call_command("revoke_google_accounts", "--pending", stdout=StringIO())

    assert revoke_endpoint.tokens == ["1//CAPPED", "1//LATER"]
    assert not PendingRevocation.objects.exists()


def test_the_celery_task_retries_the_due_rows(revoke_endpoint, settings):
    pytest.importorskip("celery")
    from celery import Celery

    from google_connect import tasks

    app = Celery("pending_eager", set_as_current=False)
    app.conf.update(task_always_eager=True, broker_url="memory://")
    pending()

    result = app.tasks["google_connect.retry_pending_revocations"].apply().get()

    assert tasks.retry_pending_revocations.name == "google_connect.retry_pending_revocations"
    assert result == {"revoked": 1, "already_revoked": 0, "failed": 0}
    assert not PendingRevocation.objects.exists()


def test_the_first_failure_after_a_deletion_schedules_a_retry_in_five_minutes(
    revoke_endpoint, user, django_capture_on_commit_callbacks
):
    from tests.factories import make_account

    make_account(user)
    revoke_endpoint.status = 503
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    row = PendingRevocation.objects.get()
    assert row.attempts == 1
    assert before + timedelta(minutes=5) <= row.next_attempt_at
    assert row.next_attempt_at <= timezone.now() + timedelta(minutes=5)


def test_check_reports_pending_revocations_and_the_oldest_age():
    pending(created_at=timezone.now() - timedelta(hours=3))
    pending()

    out, error = check("--json")

    assert error is None
    report = json.loads(out)["pending_revocations"]
    assert report["count"] == 2
    assert 3 * 3600 <= report["oldest_age_seconds"] < 3 * 3600 + 60
    assert (report["overdue"], report["past_attempt_cap"]) == (0, 0)
    assert report["undecryptable_ids"] == []


def test_check_prints_pending_revocations_in_text():
    pending(created_at=timezone.now() - timedelta(hours=3, minutes=5))

    out, error = check()

    assert error is None
    assert (
        "1 pending revocation, the oldest 3h 5m old: 0 older than a day, 0 past 20 attempts"
    ) in out


def test_check_fails_when_a_pending_revocation_is_older_than_a_day():
    pending(created_at=timezone.now() - timedelta(days=1, minutes=1))

    out, error = check("--json")

    assert json.loads(out)["pending_revocations"]["overdue"] == 1
    assert "1 pending revocation older than a day" in str(error)


def test_check_fails_when_a_pending_revocation_is_past_the_attempt_cap():
    pending(attempts=MAX_ATTEMPTS)

    out, error = check()

    assert "0 older than a day, 1 past 20 attempts" in out
    assert "1 past 20 attempts" in str(error)
    assert PendingRevocation.objects.count() == 1


def test_check_names_undecryptable_pending_revocations(settings):
    pending("1//READABLE")
    settings.FERNET_KEYS = ["another-key"]
    lost = pending("1//LOST")
    settings.FERNET_KEYS = ["tests-fernet-key-one"]

    out, error = check("--json")

    assert error is None
    assert json.loads(out)["pending_revocations"]["undecryptable_ids"] == [lost.pk]
    text, _ = check()
    assert f"undecryptable (no key in FERNET_KEYS): {lost.pk}" in text


def test_the_cap_is_twenty_attempts():
    assert pending_revocation.MAX_ATTEMPTS == 20
