"""Migration 0005: last_refreshed_at backfilled from updated_at, no table rewrite."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.migrations_support import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

APP = "google_connect"
BEFORE = [(APP, "0003_googleaccount_reconnect_reason")]
AFTER = [(APP, "0005_grant_lifetimes")]


@pytest.fixture
def at_0003():
    apps = migrate(BEFORE)
    yield apps
    migrate_to_latest()


def old_row(apps, updated_at):
    user = apps.get_model("auth", "User").objects.create(username=f"u{updated_at.timestamp()}")
    account_model = apps.get_model(APP, "GoogleAccount")
    account = account_model.objects.create(
        user_id=user.pk,
        sub=f"sub-{updated_at.timestamp()}",
        access_token="ya29.OLD",
        expires_at=timezone.now(),
    )
    account_model.objects.filter(pk=account.pk).update(updated_at=updated_at)
    return account.pk


def test_last_refreshed_at_is_backfilled_from_updated_at(at_0003):
    long_ago = timezone.now() - timedelta(days=120)
    recently = timezone.now() - timedelta(days=2)
    pks = [old_row(at_0003, long_ago), old_row(at_0003, recently)]

    apps = migrate(AFTER)

    rows = apps.get_model(APP, "GoogleAccount").objects.in_bulk(pks)
    assert [rows[pk].last_refreshed_at for pk in pks] == [long_ago, recently]
    assert rows[pks[0]].refresh_token_expires_at is None
    assert rows[pks[0]].expiry_warned_at is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's relfilenode")
def test_no_table_rewrite_on_postgresql(at_0003):
    old_row(at_0003, timezone.now())

    def filenode():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_relation_filenode('google_connect_googleaccount')")
            return cursor.fetchone()[0]

    before = filenode()
    migrate(AFTER)

    # A rewrite (ALTER TABLE ... with a volatile default, a type change)
    # gives the table a new file.
    assert filenode() == before
