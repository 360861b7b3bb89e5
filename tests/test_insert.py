"""A first connect's one-statement INSERT behaves as ``save(force_insert=True)`` does.

Runs on whichever database runs the suite (tox: SQLite, PostgreSQL, MariaDB).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import signals
from django.utils import timezone

from google_connect.insert import insert_row, skips_conflicts
from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.support import recording

pytestmark = pytest.mark.django_db


def new_account(sub: str = "109876543210987654321", **fields: Any) -> GoogleAccount:
    user = get_user_model().objects.create_user(f"user-{sub}-{GoogleAccount.objects.count()}")
    values = {
        "email": "alice@example.com",
        "access_token": "ya29.INSERTED",
        "refresh_token": "1//INSERTED",
        "expires_at": timezone.now() + timedelta(hours=1),
        "scopes": "openid email",
        **fields,
    }
    return GoogleAccount(user=user, sub=sub, **values)


@pytest.fixture
def saves():
    """Every pre_save / post_save sent for GoogleAccount, in order."""
    with recording(signals.pre_save, signals.post_save, sender=GoogleAccount) as sent:
        yield sent


def names(saves):
    return ["pre_save" if kwargs["signal"] is signals.pre_save else "post_save" for kwargs in saves]


def unless_stored() -> dict[str, str]:
    return {"unless_stored": "sub"} if skips_conflicts("default") else {}


def test_the_row_reads_back_as_written():
    account = new_account()

    assert insert_row(account, "default", **unless_stored()) is True

    stored = GoogleAccount.objects.get(pk=account.pk)
    assert (stored.sub, stored.user_id, stored.email) == (
        "109876543210987654321",
        account.user_id,
        "alice@example.com",
    )
    assert (stored.access_token, stored.refresh_token) == ("ya29.INSERTED", "1//INSERTED")
    assert stored.scopes == "openid email"
    assert stored.status == GoogleAccount.Status.ACTIVE


def test_the_instance_becomes_a_saved_row():
    account = new_account()

    insert_row(account, "default", **unless_stored())

    assert account.pk is not None
    assert account._state.adding is False
    assert account._state.db == "default"
    # auto_now_add / auto_now stamped on the instance, as save() does.
    assert account.created_at is not None
    assert account.updated_at is not None
    assert GoogleAccount.objects.get(pk=account.pk).created_at == account.created_at


def test_tokens_are_stored_encrypted():
    account = new_account(access_token="ya29.PLAINTEXT-NEVER-STORED")

    insert_row(account, "default", **unless_stored())

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token FROM google_connect_googleaccount WHERE id = %s", [account.pk]
        )
        [raw] = cursor.fetchone()
    assert b"PLAINTEXT" not in bytes(raw)


def test_pre_save_and_post_save_are_sent_as_save_sends_them(saves):
    account = new_account()

    insert_row(account, "default", **unless_stored())

    assert names(saves) == ["pre_save", "post_save"]
    pre, post = saves
    assert pre["instance"] is account and post["instance"] is account
    assert (pre["raw"], pre["using"], pre["update_fields"]) == (False, "default", None)
    assert (post["created"], post["raw"], post["using"], post["update_fields"]) == (
        True,
        False,
        "default",
        None,
    )


def test_a_duplicate_sub_without_unless_stored_is_refused_like_save():
    make_account(sub="109876543210987654321")

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_row(new_account(), "default")

    assert GoogleAccount.objects.count() == 1


@pytest.mark.skipif(not skips_conflicts("default"), reason="needs ON CONFLICT ... RETURNING")
def test_a_stored_sub_writes_nothing_and_raises_nothing(saves):
    first = make_account(sub="109876543210987654321", access_token="ya29.FIRST")
    saves.clear()

    # Inside a transaction and without a savepoint: on PostgreSQL an error
    # would leave the transaction unusable, so the query after it proves none.
    with transaction.atomic():
        inserted = insert_row(new_account(), "default", unless_stored="sub")
        assert GoogleAccount.objects.count() == 1

    assert inserted is False
    assert GoogleAccount.objects.get().access_token == "ya29.FIRST"
    assert GoogleAccount.objects.get().pk == first.pk
    # As save() before a refused INSERT: pre_save, and no post_save.
    assert names(saves) == ["pre_save"]


@pytest.mark.skipif(skips_conflicts("default"), reason="this database skips conflicts")
def test_databases_without_on_conflict_refuse_unless_stored():
    with pytest.raises(ValueError, match="cannot skip a stored row"):
        insert_row(new_account(), "default", unless_stored="sub")

    assert GoogleAccount.objects.count() == 0


def test_postgresql_and_recent_sqlite_skip_conflicts_in_one_statement():
    expected = {
        "postgresql": True,
        # ON CONFLICT ... RETURNING needs SQLite 3.35.
        "sqlite": connection.Database.sqlite_version_info >= (3, 35)
        if connection.vendor == "sqlite"
        else None,
        "mysql": False,
    }[connection.vendor]

    assert skips_conflicts("default") is expected
