"""No token in Django's error reports (issue 22, item 3).

With DEBUG off, ``ExceptionReporter`` (what ``AdminEmailHandler`` mails)
renders every frame's locals, Django's own frames included. A database error
is injected into each write that holds tokens, and both renderings of the
report are searched for them.
"""

import sys
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone
from django.views.debug import ExceptionReporter

from google_connect.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation
from google_connect.testing import SUB, finish_flow, make_account, start_flow, token_body

pytestmark = pytest.mark.django_db

OLD_ACCESS = "ya29.OLD-ACCESS-for-the-report"
OLD_REFRESH = "1//OLD-REFRESH-for-the-report"
NEW_ACCESS = "ya29.NEW-ACCESS-for-the-report"
NEW_REFRESH = "1//NEW-REFRESH-for-the-report"
SECRETS = (OLD_ACCESS, OLD_REFRESH, NEW_ACCESS, NEW_REFRESH)


def failing(statement, table):
    """A database error on every ``statement`` (INSERT, UPDATE, DELETE) into ``table``."""

    def refuse(execute, sql, params, many, context):
        if sql.startswith(statement) and table in sql:
            raise DatabaseError("injected failure")
        return execute(sql, params, many, context)

    return connection.execute_wrapper(refuse)


def report_of(action):
    """The HTML and text reports of the DatabaseError that ``action`` raises."""
    try:
        action()
    except DatabaseError:
        reporter = ExceptionReporter(None, *sys.exc_info())
        return reporter.get_traceback_html() + reporter.get_traceback_text()
    pytest.fail("the write did not fail")


def leaked(report):
    return [secret for secret in SECRETS if secret in report]


@pytest.fixture
def account(user):
    return make_account(
        user,
        access_token=OLD_ACCESS,
        refresh_token=OLD_REFRESH,
        expires_at=timezone.now() - timedelta(minutes=1),
    )


def test_the_report_renders_the_frames_locals(account):
    # The test's premise: Django shows locals of undecorated frames.
    def save_with(value):
        account.name = value
        account.save()

    with failing("UPDATE", GoogleAccount._meta.db_table):
        report = report_of(lambda: save_with("a-name-in-the-report"))

    assert "a-name-in-the-report" in report


def test_a_failing_save_shows_no_token(account):
    account.access_token = NEW_ACCESS
    account.refresh_token = NEW_REFRESH

    with failing("UPDATE", GoogleAccount._meta.db_table):
        report = report_of(account.save)

    assert leaked(report) == []


def test_a_failing_refresh_shows_no_token(account, google):
    google.token(token_body(access_token=NEW_ACCESS, refresh_token=NEW_REFRESH))

    with failing("UPDATE", GoogleAccount._meta.db_table):
        report = report_of(account.refresh_access_token)

    assert leaked(report) == []


def test_a_failing_connect_shows_no_token(alice, google):
    google.token(token_body(access_token=NEW_ACCESS, refresh_token=NEW_REFRESH))
    google.userinfo()
    state = start_flow(alice)["state"]

    with failing("INSERT", GoogleAccount._meta.db_table):
        report = report_of(lambda: finish_flow(alice, state))

    assert leaked(report) == []


def test_a_failing_disconnect_shows_no_token(account, google):
    google.revoke()

    with failing("DELETE", GoogleAccount._meta.db_table):
        report = report_of(account.disconnect)

    assert leaked(report) == []


def test_a_failing_pending_revocation_write_shows_no_token(account):
    with failing("INSERT", PendingRevocation._meta.db_table):
        report = report_of(account.user.delete)

    assert leaked(report) == []


def test_a_failing_reconnect_shows_no_token(alice, user, google):
    make_account(user, sub=SUB, access_token=OLD_ACCESS, refresh_token=OLD_REFRESH)
    google.token(token_body(access_token=NEW_ACCESS, refresh_token=NEW_REFRESH))
    google.userinfo()
    state = start_flow(alice)["state"]

    with failing("UPDATE", GoogleAccount._meta.db_table):
        report = report_of(lambda: finish_flow(alice, state))

    assert leaked(report) == []
