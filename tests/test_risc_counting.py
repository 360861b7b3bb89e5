"""A security event's daily count: in the event's own transaction, never its failure.

Transactional tests: the receiver runs in autocommit, as on a site, so each
of its transactions commits for real.
"""

import logging

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from google_connect.models import DailyCount, GoogleSecurityEvent
from google_connect.store import activity
from tests.factories import make_account
from tests.risc_support import SESSIONS_REVOKED, TOKENS_REVOKED, claims, iss_sub, sign

pytestmark = pytest.mark.django_db(transaction=True)


def counted():
    return list(
        DailyCount.objects.filter(kind=DailyCount.Kind.SECURITY_EVENTS).values_list(
            "count", flat=True
        )
    )


@pytest.mark.parametrize("event_type", [TOKENS_REVOKED, SESSIONS_REVOKED])
def test_an_event_and_its_count_share_one_commit(client, risc, event_type):
    make_account(sub="sub-1")

    with CaptureQueriesContext(connection) as captured:
        response = risc.post(client, sign(claims(event_type, {"subject": iss_sub("sub-1")})))

    assert response.status_code == 202
    assert counted() == [1]
    # A second transaction for the count alone cost the receiver about a
    # fifth of its rate on PostgreSQL (benchmarks/risc.py).
    commits = [q["sql"] for q in captured if q["sql"].upper() == "COMMIT"]
    assert commits == ["COMMIT"]


def test_a_second_delivery_is_not_counted_again(client, risc):
    body = sign(claims(SESSIONS_REVOKED, {"subject": iss_sub("sub-1")}, jti="once"))

    assert risc.post(client, body).status_code == 202
    assert risc.post(client, body).status_code == 202

    assert GoogleSecurityEvent.objects.count() == 1
    assert counted() == [1]


def test_events_of_one_day_add_up_on_one_row(client, risc):
    for jti in ("a", "b", "c"):
        risc.post(client, sign(claims(SESSIONS_REVOKED, {}, jti=jti)))

    assert counted() == [3]
    assert DailyCount.objects.get().last_at is not None


class _Refusing:
    """A manager whose database refuses every statement."""

    def using(self, alias):
        raise DatabaseError("the counts' database is read-only")


def test_a_refused_count_leaves_the_event_recorded(client, risc, monkeypatch, caplog):
    monkeypatch.setattr(DailyCount, "objects", _Refusing())

    with caplog.at_level(logging.WARNING, logger="google_connect"):
        response = risc.post(client, sign(claims(SESSIONS_REVOKED, {}, jti="kept")))

    assert response.status_code == 202
    assert GoogleSecurityEvent.objects.filter(jti="kept").exists()
    assert "Counting a security_events for the overview failed (DatabaseError)" in caplog.text


def test_a_bug_in_counting_leaves_the_event_recorded(client, risc, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in counting")

    monkeypatch.setattr(activity, "increment", broken)

    with caplog.at_level(logging.WARNING, logger="google_connect"):
        response = risc.post(client, sign(claims(SESSIONS_REVOKED, {}, jti="kept")))

    assert response.status_code == 202
    assert GoogleSecurityEvent.objects.filter(jti="kept").exists()
    assert "(RuntimeError)" in caplog.text


def test_a_statement_the_database_refuses_rolls_back_the_count_alone(client, risc, caplog):
    # A real error from the database, not from Python: on PostgreSQL it
    # aborts the whole transaction unless the count has a savepoint of its
    # own, and the event's row would be lost with it.
    make_account(sub="sub-1")
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE google_connect_dailycount RENAME TO google_connect_dailycount_away"
        )
    try:
        with caplog.at_level(logging.WARNING, logger="google_connect"):
            response = risc.post(
                client, sign(claims(TOKENS_REVOKED, {"subject": iss_sub("sub-1")}, jti="kept"))
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE google_connect_dailycount_away RENAME TO google_connect_dailycount"
            )

    assert response.status_code == 202
    event = GoogleSecurityEvent.objects.get(jti="kept")
    assert event.accounts_affected == 1
    assert "Counting a security_events for the overview failed" in caplog.text
    assert counted() == []
