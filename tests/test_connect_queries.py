"""What a connection costs the database, counted in statements (never timed)."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from google_connect.models import GoogleAccount
from google_connect.web import used_state
from tests.support import finish_flow, start_flow, token_body

pytestmark = pytest.mark.django_db(transaction=True)

TRANSACTION_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "COMMIT")
# The budget for a whole flow (authorize, then callback), transaction
# control aside: 7 in 0.1, one more for the ORM's look-up before its INSERT,
# one more for the single-use state of the correctness work, two for the
# admin overview's daily count (its UPDATE, and the INSERT of the day's first
# connect; one statement on every later one), and one for the Google
# account's lock (store/connect_lock.py), which a first connect takes
# besides its look-up, now a locking read (a reconnect costs what it did).
FLOW_QUERY_BUDGET = 12


@pytest.fixture(autouse=True)
def pruned_a_moment_ago(monkeypatch):
    """Used states are pruned once a minute per process, by whichever flow
    comes first (tests/test_single_use_state.py): not inside the count."""
    monkeypatch.setattr(used_state, "_next_prune", time.monotonic() + used_state.PRUNE_INTERVAL)


def flow_statements(client, google, **token):
    google.token(token_body(**token))
    google.userinfo()
    with CaptureQueriesContext(connection) as queries:
        state = start_flow(client)["state"]
        response = finish_flow(client, state)
    assert response.status_code == 200
    return [q["sql"] for q in queries]


def account_statements(client, google, **token):
    statements = flow_statements(client, google, **token)
    return [
        sql
        for sql in statements
        if "google_connect_googleaccount" in sql or "google_connect_connectlock" in sql
    ]


def test_first_connect_takes_the_lock_then_reads_and_inserts(alice, google):
    statements = account_statements(alice, google)

    # One statement creates the lock (an upsert, never a refused INSERT),
    # a locking read finds no row of the sub, the INSERT stores it.
    assert [sql.split()[0] for sql in statements] == ["INSERT", "SELECT", "INSERT"]
    assert "google_connect_connectlock" in statements[0]
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in statements[1]
    assert GoogleAccount.objects.count() == 1


def test_reconnect_updates_the_row_under_its_lock(alice, google):
    account_statements(alice, google)
    google.mock.reset()

    statements = account_statements(alice, google, access_token="ya29.SECOND")

    # No refused INSERT: PostgreSQL would log it as an ERROR. The lock's
    # upsert finds its row and locks it.
    assert [sql.split()[0] for sql in statements] == ["INSERT", "SELECT", "UPDATE"]
    assert "google_connect_connectlock" in statements[0]
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in statements[1]
    assert GoogleAccount.objects.get().access_token == "ya29.SECOND"


def test_a_connect_flow_stays_within_its_query_budget(alice, google):
    statements = flow_statements(alice, google)

    queries = [sql for sql in statements if not sql.startswith(TRANSACTION_CONTROL)]
    assert len(queries) <= FLOW_QUERY_BUDGET, queries
