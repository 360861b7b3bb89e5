"""check_google_accounts: the summary, --json, --send-warnings, --keep-alive and
--refresh-expiring."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone

from google_connect import grants
from google_connect.google import retry
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_expiring
from google_connect.store import health, jobs, tokens, upkeep
from tests.factories import make_account
from tests.support import recording

pytestmark = pytest.mark.django_db

REFRESHED = {"access_token": "ya29.KEPT-ALIVE", "expires_in": 3599, "token_type": "Bearer"}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("check_google_accounts", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def days(n):
    return timezone.now() + timedelta(days=n)


def ago(n):
    return timezone.now() - timedelta(days=n)


@pytest.fixture
def mixed(settings):
    """One account of each kind the summary counts."""
    return {
        "fine": make_account(last_refreshed_at=ago(1)),
        "ending": make_account(last_refreshed_at=ago(1), refresh_token_expires_at=days(3)),
        "ending_later": make_account(last_refreshed_at=ago(1), refresh_token_expires_at=days(20)),
        "ended": make_account(last_refreshed_at=ago(1), authorization_expires_at=ago(1)),
        "idle": make_account(last_refreshed_at=ago(151)),
        "expired": make_account(
            status="reconnect_required", reconnect_reason="refresh_token_expired"
        ),
        "reauth": make_account(status="reconnect_required", reconnect_reason="reauth_required"),
        "old_mark": make_account(status="reconnect_required"),
    }


def test_summary_counts_by_status_reason_expiry_and_idleness(mixed):
    out, err, error = run()

    assert error is None
    assert err == ""
    assert out.splitlines() == [
        "8 Google accounts: 5 active, 3 reconnect required",
        "  1 refresh_token_expired (Time-limited access ended)",
        "  1 reauth_required (Google asks the user to sign in again)",
        "  1 unknown (reason not recorded)",
        "1 time-limited grant ends within 7 days",
        "1 time-limited grant has ended (marked at the next refresh)",
        "1 active account unused for more than 150 days",
        "0 accounts with tokens no key in FERNET_KEYS decrypts",
        "0 pending revocations",
    ]


def test_json_prints_the_same_summary(mixed, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "EXPIRY_WARNING_DAYS": 30}

    out, _, error = run("--json")

    assert error is None
    assert json.loads(out) == {
        "accounts": 8,
        "by_status": {"active": 5, "reconnect_required": 3},
        "by_reason": {
            "invalid_grant": 0,
            "refresh_token_expired": 1,
            "reauth_required": 1,
            "revoked": 0,
            "account_disabled": 0,
            "unknown": 1,
        },
        "expiring": {"within_days": 30, "count": 2},
        "ended": 1,
        "idle": {"days": 150, "count": 1},
        "undecryptable": {"count": 0, "ids": []},
        "pending_revocations": {
            "count": 0,
            "oldest_age_seconds": None,
            "overdue": 0,
            "past_attempt_cap": 0,
            "undecryptable_ids": [],
        },
    }


def test_undecryptable_rows_are_reported_and_change_nothing(settings):
    make_account()
    settings.FERNET_KEYS = ["another-key"]
    lost = make_account()
    settings.FERNET_KEYS = ["tests-fernet-key-one"]

    out, _, error = run("--json")

    assert error is None
    assert json.loads(out)["undecryptable"] == {"count": 1, "ids": [lost.pk]}
    assert GoogleAccount.objects.filter(status="active").count() == 2


# -- --send-warnings -------------------------------------------------------------------


def test_warnings_are_sent_once_across_two_runs(mixed):
    with recording(google_account_expiring) as sent:
        first, _, _ = run("--send-warnings")
        second, _, _ = run("--send-warnings")

    [kwargs] = sent
    assert kwargs["account"].pk == mixed["ending"].pk
    assert kwargs["expires_at"] == mixed["ending"].refresh_token_expires_at
    assert "1 expiry warning sent, 0 failed" in first
    assert "0 expiry warnings sent, 0 failed" in second


def test_a_refresh_repeating_the_lifetime_does_not_warn_again(google):
    account = make_account(
        refresh_token_expires_at=days(3), expires_at=timezone.now() - timedelta(minutes=1)
    )
    google.token({**REFRESHED, "refresh_token_expires_in": 3 * 24 * 3600 - 60})

    with recording(google_account_expiring) as sent:
        assert grants.send_expiry_warnings() == {"warned": 1, "failed": 0}
        GoogleAccount.objects.get(pk=account.pk).get_access_token()
        assert grants.send_expiry_warnings() == {"warned": 0, "failed": 0}

    assert len(sent) == 1


def test_a_reconnect_with_a_new_refresh_token_is_a_new_grant(alice, google, user):
    from tests.support import connect, token_body

    make_account(user, sub="109876543210987654321", refresh_token_expires_at=days(3))
    grants.send_expiry_warnings()

    connect(alice, google, token=token_body(refresh_token_expires_in=2 * 24 * 3600))

    with recording(google_account_expiring) as sent:
        assert grants.send_expiry_warnings() == {"warned": 1, "failed": 0}
    assert len(sent) == 1


def test_a_reconnect_without_a_new_refresh_token_is_not_warned_again(alice, google, user):
    from tests.support import connect, token_body

    make_account(user, sub="109876543210987654321", refresh_token_expires_at=days(3))
    assert grants.send_expiry_warnings() == {"warned": 1, "failed": 0}

    connect(alice, google, token=token_body(refresh_token=None))

    with recording(google_account_expiring) as sent:
        assert grants.send_expiry_warnings() == {"warned": 0, "failed": 0}
    assert sent == []


def test_a_failing_receiver_is_retried_on_the_next_run(mixed):
    def broken(**kwargs):
        raise RuntimeError("mail server down")

    google_account_expiring.connect(broken)
    try:
        out, _, error = run("--send-warnings")
    finally:
        google_account_expiring.disconnect(broken)

    assert "0 expiry warnings sent, 1 failed" in out
    assert isinstance(error, CommandError)
    with recording(google_account_expiring) as sent:
        run("--send-warnings")
    assert [k["account"].pk for k in sent] == [mixed["ending"].pk]


def test_no_warning_for_ongoing_or_broken_grants():
    make_account()
    make_account(refresh_token_expires_at=days(2), status="reconnect_required")

    assert grants.send_expiry_warnings() == {"warned": 0, "failed": 0}


# -- --keep-alive ----------------------------------------------------------------------


def test_keep_alive_refreshes_exactly_the_idle_active_accounts(google, mixed):
    never_refreshed = make_account()
    GoogleAccount.objects.filter(pk=never_refreshed.pk).update(created_at=ago(200))
    google.token(REFRESHED)

    out, _, error = run("--keep-alive", "--workers", "1")

    assert error is None
    assert "2 refreshed, 0 reconnect required, 0 failed" in out
    refreshed = {a.pk for a in GoogleAccount.objects.all() if a.access_token == "ya29.KEPT-ALIVE"}
    assert refreshed == {mixed["idle"].pk, never_refreshed.pk}
    assert len(google.token_requests()) == 2
    assert GoogleAccount.objects.get(pk=mixed["idle"].pk).last_refreshed_at > ago(1)


def test_keep_alive_counts_dead_grants_and_failures_and_exits_non_zero(google, settings):
    dead = make_account(last_refreshed_at=ago(160))
    down = make_account(last_refreshed_at=ago(170))
    # Answered in pk order: the first call gets the first answer.
    google.token({"error": "invalid_grant"}, status=400)
    google.token({"error": "backend_error"}, status=503)

    out, _, error = run("--keep-alive", "--workers", "1")

    assert "0 refreshed, 1 reconnect required, 1 failed" in out
    assert isinstance(error, CommandError)
    assert GoogleAccount.objects.get(pk=dead.pk).status == "reconnect_required"
    assert GoogleAccount.objects.get(pk=down.pk).status == "active"


@pytest.mark.parametrize(
    ("accounts", "message"),
    [(1, "1 warning or refresh failed."), (2, "2 warnings or refreshes failed.")],
)
def test_the_failures_are_counted_in_the_singular_or_the_plural(google, accounts, message):
    for _ in range(accounts):
        make_account(last_refreshed_at=ago(160))
    google.token({"error": "backend_error"}, status=503)

    _, _, error = run("--keep-alive")

    assert str(error) == message


def test_keep_alive_with_ids_takes_only_those_still_idle(google):
    chosen = make_account(last_refreshed_at=ago(160))
    make_account(last_refreshed_at=ago(160))
    fresh = make_account(last_refreshed_at=ago(1))
    google.token(REFRESHED)

    result = grants.keep_alive(ids=[chosen.pk, fresh.pk])

    assert result == {"refreshed": 1, "reconnect_required": 0, "failed": 0}
    assert len(google.token_requests()) == 1


def test_keep_alive_skips_an_account_refreshed_since_it_was_read(google, monkeypatch):
    account = make_account(last_refreshed_at=ago(160))
    google.token(REFRESHED)
    pages = upkeep.pages

    def pages_then_someone_refreshes(queryset, size):
        for read_at, page in pages(queryset, size):
            GoogleAccount.objects.filter(pk=account.pk).update(last_refreshed_at=timezone.now())
            yield read_at, page

    monkeypatch.setattr(upkeep, "pages", pages_then_someone_refreshes)

    assert grants.keep_alive() == {"refreshed": 0, "reconnect_required": 0, "failed": 0}
    assert len(google.token_requests()) == 0


def test_keep_alive_reads_in_keyset_pages(google):
    for _ in range(5):
        make_account(last_refreshed_at=ago(160))
    google.token(REFRESHED)
    seen = []
    pages = upkeep.pages

    def recorded(queryset, size):
        for read_at, page in pages(queryset, size):
            seen.append(len(page))
            yield read_at, page

    upkeep.pages = recorded
    try:
        assert grants.keep_alive(chunk_size=2)["refreshed"] == 5
    finally:
        upkeep.pages = pages
    assert seen == [2, 2, 1]


def test_workers_must_be_in_range():
    _, _, error = run("--keep-alive", "--workers", "0")

    assert "--workers must be between 1 and 64" in str(error)


class Terminal(StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_keep_alive_draws_a_progress_bar_with_rate_and_eta(google, capsys):
    for _ in range(3):
        make_account(last_refreshed_at=ago(160))
    google.token(REFRESHED)

    call_command("check_google_accounts", "--keep-alive", stdout=StringIO(), stderr=Terminal())

    bar = capsys.readouterr().err.split("\r")[-1]
    assert "keep-alive: 100%" in bar
    assert "3/3 [" in bar
    assert "account/s]" in bar


def test_without_a_terminal_there_is_no_progress_bar(google, capsys):
    make_account(last_refreshed_at=ago(160))
    google.token(REFRESHED)

    run("--keep-alive")

    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("command", "args", "unit"),
    # Rotation counts rows: accounts and pending revocations.
    [("revoke_google_accounts", ["--all"], "account"), ("rotate_google_token_keys", [], "row")],
)
def test_the_other_commands_draw_their_progress_bar_with_tqdm(command, args, unit, google, capsys):
    make_account()
    google.revoke()

    call_command(command, *args, stdout=StringIO(), stderr=Terminal())

    bar = capsys.readouterr().err.split("\r")[-1]
    assert "100%" in bar
    assert "1/1 [" in bar
    assert f"{unit}/s]" in bar


def test_keep_alive_counts_undecryptable_tokens_as_failed_and_changes_no_status(google, settings):
    settings.FERNET_KEYS = ["another-key"]
    lost = make_account(last_refreshed_at=ago(160))
    settings.FERNET_KEYS = ["tests-fernet-key-one"]

    assert grants.keep_alive() == {"refreshed": 0, "reconnect_required": 0, "failed": 1}
    assert len(google.mock.calls) == 0
    assert GoogleAccount.objects.filter(pk=lost.pk, status="active", reconnect_reason="").exists()


# -- --refresh-expiring ----------------------------------------------------------------


def minutes(n):
    return timezone.now() + timedelta(minutes=n)


def test_refresh_expiring_refreshes_exactly_what_the_tasks_fan_out_queues(google):
    due = [make_account(expires_at=minutes(n)) for n in (-5, 2, 9)]
    make_account(expires_at=minutes(11))
    make_account(expires_at=minutes(-5), status="reconnect_required")
    queued = []
    jobs.refresh_expiring(jobs.WITHIN_SECONDS, jobs.CHUNK_SIZE, queued.extend)
    google.token(REFRESHED)

    out, _, error = run("--refresh-expiring", "--json")

    assert error is None
    # A refresh_accounts chunk's counts.
    assert json.loads(out)["refresh"] == {
        "refreshed": 3,
        "already_fresh": 0,
        "reconnect_required": 0,
        "failed": 0,
    }
    refreshed = {a.pk for a in GoogleAccount.objects.all() if a.access_token == "ya29.KEPT-ALIVE"}
    assert refreshed == set(queued) == {a.pk for a in due}
    assert len(google.token_requests()) == 3


def test_refresh_expiring_counts_a_database_error_as_failed_and_goes_on(google, monkeypatch):
    stuck, fine = make_account(expires_at=minutes(2)), make_account(expires_at=minutes(2))
    google.token(REFRESHED)
    refresh = tokens.refresh

    def lock_timeout_for_one(account, **kwargs):
        if account.pk == stuck.pk:
            raise OperationalError("canceling statement due to lock timeout")
        return refresh(account, **kwargs)

    monkeypatch.setattr(tokens, "refresh", lock_timeout_for_one)

    out, _, error = run("--refresh-expiring")

    assert "expiring: 1 refreshed, 0 reconnect required, 1 failed" in out
    assert isinstance(error, CommandError)
    assert GoogleAccount.objects.get(pk=fine.pk).access_token == "ya29.KEPT-ALIVE"


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_the_warning_window_is_exactly_expiry_warning_days(settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "EXPIRY_WARNING_DAYS": 7}
    inside = make_account(refresh_token_expires_at=days(7) - timedelta(hours=1))
    make_account(refresh_token_expires_at=days(7) + timedelta(hours=1))

    with recording(google_account_expiring) as sent:
        assert grants.send_expiry_warnings() == {"warned": 1, "failed": 0}

    assert [k["account"].pk for k in sent] == [inside.pk]


def test_an_account_another_run_warned_since_it_was_read_is_not_warned_again(monkeypatch):
    account = make_account(refresh_token_expires_at=days(3))
    pages = upkeep.pages

    def pages_then_another_run_warns(queryset, size):
        for read_at, page in pages(queryset, size):
            GoogleAccount.objects.filter(pk=account.pk).update(expiry_warned_at=timezone.now())
            yield read_at, page

    monkeypatch.setattr(upkeep, "pages", pages_then_another_run_warns)

    with recording(google_account_expiring) as sent:
        assert grants.send_expiry_warnings() == {"warned": 0, "failed": 0}
    assert sent == []


def test_keep_alive_skips_an_account_that_needs_a_reconnect_since_it_was_read(google, monkeypatch):
    # Google disabled it (hijacking) after the page was read: its token is
    # never sent to Google again.
    account = make_account(last_refreshed_at=ago(160))
    google.token(REFRESHED)
    pages = upkeep.pages

    def pages_then_google_disables_it(queryset, size):
        for read_at, page in pages(queryset, size):
            GoogleAccount.objects.filter(pk=account.pk).update(
                status="reconnect_required", reconnect_reason="account_disabled"
            )
            yield read_at, page

    monkeypatch.setattr(upkeep, "pages", pages_then_google_disables_it)

    assert grants.keep_alive() == {"refreshed": 0, "reconnect_required": 0, "failed": 0}
    assert len(google.token_requests()) == 0
    assert GoogleAccount.objects.get(pk=account.pk).reconnect_reason == "account_disabled"


def test_a_grant_that_ended_on_an_account_needing_a_reconnect_is_not_counted_as_ended():
    make_account(
        status="reconnect_required",
        reconnect_reason="refresh_token_expired",
        refresh_token_expires_at=ago(1),
    )
    ended = make_account(authorization_expires_at=ago(1))

    summary = health.summary()

    assert summary["ended"] == 1
    assert GoogleAccount.objects.active().get().pk == ended.pk
