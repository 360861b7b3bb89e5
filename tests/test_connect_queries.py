"""What a connection costs the database, counted in statements (never timed)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from google_connect.insert import skips_conflicts
from google_connect.models import GoogleAccount
from tests.support import finish_flow, start_flow, token_body

pytestmark = pytest.mark.django_db(transaction=True)


def account_statements(client, google, **token):
    google.token(token_body(**token))
    google.userinfo()
    state = start_flow(client)["state"]
    with CaptureQueriesContext(connection) as queries:
        response = finish_flow(client, state)
    assert response.status_code == 200
    return [q["sql"] for q in queries if "google_connect_googleaccount" in q["sql"]]


def test_first_connect_is_one_insert_without_a_lock(alice, google):
    statements = account_statements(alice, google)

    if skips_conflicts("default"):
        assert [sql.split()[0] for sql in statements] == ["INSERT"]
        assert "ON CONFLICT" in statements[0]
    else:
        # MariaDB and MySQL: a plain look-up comes first.
        assert [sql.split()[0] for sql in statements] == ["SELECT", "INSERT"]
    assert not any("FOR UPDATE" in sql for sql in statements)
    assert GoogleAccount.objects.count() == 1


def test_reconnect_updates_the_row_under_its_lock(alice, google):
    account_statements(alice, google)
    google.mock.reset()

    statements = account_statements(alice, google, access_token="ya29.SECOND")

    # No refused INSERT: PostgreSQL would log it as an ERROR. Where the
    # database can, the INSERT that finds the sub stored writes nothing.
    first = "INSERT" if skips_conflicts("default") else "SELECT"
    assert [sql.split()[0] for sql in statements] == [first, "SELECT", "UPDATE"]
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in statements[1]
    assert GoogleAccount.objects.get().access_token == "ya29.SECOND"
