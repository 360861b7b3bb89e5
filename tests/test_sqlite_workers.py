"""--workers on SQLite, and the IMMEDIATE transaction check (issue 22, item 12)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from google_connect import grants
from google_connect.google import retry
from google_connect.models import GoogleAccount
from tests.factories import make_account

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


def idle_accounts(n):
    return [make_account(last_refreshed_at=timezone.now() - timedelta(days=160)) for _ in range(n)]


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_keep_alive_with_four_workers_succeeds_on_a_file_sqlite_database(google):
    assert connection.settings_dict["NAME"] != ":memory:"
    assert "transaction_mode" not in connection.settings_dict.get("OPTIONS", {})
    idle_accounts(12)
    google.token()
    out, err = StringIO(), StringIO()

    call_command("check_google_accounts", "--keep-alive", "--workers", "4", stdout=out, stderr=err)

    assert "12 refreshed, 0 reconnect required, 0 failed" in out.getvalue()
    assert err.getvalue() == (
        "SQLite has one write lock for the whole database ('default'): "
        "running 1 worker instead of 4.\n"
    )


@on_sqlite
@pytest.mark.django_db
def test_the_library_keep_alive_runs_one_worker_on_sqlite(google, caplog):
    idle_accounts(2)
    google.token()

    assert grants.keep_alive(workers=4) == {"refreshed": 2, "reconnect_required": 0, "failed": 0}
    assert [r.getMessage() for r in caplog.records if "one write lock" in r.getMessage()] == [
        "SQLite has one write lock for the whole database ('default'): "
        "running 1 worker instead of 4."
    ]


@on_sqlite
@pytest.mark.django_db
@pytest.mark.parametrize(
    "jobs", [["--refresh-expiring"], ["--keep-alive", "--refresh-expiring"]], ids=" ".join
)
def test_refresh_expiring_with_workers_says_once_that_sqlite_runs_one(google, jobs):
    for _ in range(2):
        make_account(expires_at=timezone.now() + timedelta(minutes=1))
    google.token()
    out, err = StringIO(), StringIO()

    call_command("check_google_accounts", *jobs, "--workers", "4", stdout=out, stderr=err)

    assert "expiring: 2 refreshed, 0 reconnect required, 0 failed" in out.getvalue()
    assert err.getvalue() == (
        "SQLite has one write lock for the whole database ('default'): "
        "running 1 worker instead of 4.\n"
    )


@on_sqlite
@pytest.mark.django_db
def test_revoke_with_workers_says_once_that_sqlite_runs_one(google):
    for _ in range(3):
        make_account()
    google.revoke()
    out, err = StringIO(), StringIO()

    call_command("revoke_google_accounts", "--all", "--workers", "8", stdout=out, stderr=err)

    assert err.getvalue().count("running 1 worker instead of 8") == 1
    assert "3 revoked" in out.getvalue()
    assert not GoogleAccount.objects.exists()


@on_sqlite
@pytest.mark.django_db
def test_a_sqlite_database_without_immediate_transactions_is_warned_about():
    [warning] = [m for m in run_checks(databases=["default"]) if m.id == "google_connect.W090"]

    assert warning.msg == (
        "The SQLite database 'default' begins transactions DEFERRED: concurrent "
        "token refreshes fail with 'database is locked'."
    )
    assert '"transaction_mode": "IMMEDIATE", "timeout": 20' in warning.hint


@on_sqlite
@pytest.mark.django_db
def test_immediate_transactions_pass_the_check(monkeypatch):
    monkeypatch.setitem(
        connections["default"].settings_dict, "OPTIONS", {"transaction_mode": "IMMEDIATE"}
    )

    assert [m for m in run_checks(databases=["default"]) if m.id == "google_connect.W090"] == []


@pytest.mark.django_db
def test_the_check_ignores_databases_google_connect_does_not_write_to():
    found = [m for m in run_checks(databases=["fake_google"]) if m.id == "google_connect.W090"]

    assert found == []
