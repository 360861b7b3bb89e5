"""The refresh token's lookup digests: computed on every write path, never plain text,
and backfilled by migration 0007."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from google_connect.models import GoogleAccount
from google_connect.token_digests import PREFIX_LENGTH, double_sha512, prefix_digest
from tests.factories import make_account
from tests.support import REFRESH_TOKEN, connect, token_body

pytestmark = pytest.mark.django_db

NEW_REFRESH = "1//NEW-REFRESH-TOKEN-9876543210"


def stored(account):
    account.refresh_from_db()
    return account.refresh_token_prefix_digest, account.refresh_token_digest


def digests(token):
    return prefix_digest(token[:PREFIX_LENGTH]), double_sha512(token)


def test_double_sha512_is_googles_hash_base64_sha512_sha512():
    # base64(SHA-512(SHA-512(token))), computed by hand for "abc".
    import base64
    import hashlib

    expected = base64.b64encode(hashlib.sha512(hashlib.sha512(b"abc").digest()).digest()).decode()
    assert double_sha512("abc") == expected
    assert len(expected) == 88


def test_neither_the_token_nor_its_prefix_is_stored_in_plain_text():
    account = make_account(refresh_token=REFRESH_TOKEN)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT refresh_token_prefix_digest, refresh_token_digest FROM "
            "google_connect_googleaccount WHERE id = %s",
            [account.pk],
        )
        row = cursor.fetchone()
    assert row == digests(REFRESH_TOKEN)
    assert not any(REFRESH_TOKEN[:PREFIX_LENGTH] in value for value in row)


def test_a_first_connect_stores_them(alice, google):
    connect(alice, google)

    assert stored(GoogleAccount.objects.get()) == digests(REFRESH_TOKEN)


def test_a_reconnect_with_a_new_refresh_token_replaces_them(alice, google):
    connect(alice, google)
    connect(alice, google, token=token_body(refresh_token=NEW_REFRESH))

    assert stored(GoogleAccount.objects.get()) == digests(NEW_REFRESH)


def test_a_refresh_that_rotates_the_refresh_token_replaces_them(google):
    account = make_account(refresh_token=REFRESH_TOKEN)
    google.token(token_body(refresh_token=NEW_REFRESH))

    account.refresh_access_token()

    assert stored(account) == digests(NEW_REFRESH)


def test_a_refresh_without_a_new_refresh_token_keeps_them(google):
    account = make_account(refresh_token=REFRESH_TOKEN)
    google.token(token_body(refresh_token=None))

    account.refresh_access_token()

    assert stored(account) == digests(REFRESH_TOKEN)


def test_a_stale_instance_does_not_write_old_digests_back():
    account = make_account(refresh_token=REFRESH_TOKEN)
    stale = GoogleAccount.objects.get(pk=account.pk)
    account.refresh_token = NEW_REFRESH
    account.save()

    stale.name = "Renamed"
    stale.save()

    assert stored(account) == digests(NEW_REFRESH)


def test_update_fields_naming_the_refresh_token_writes_them():
    account = make_account(refresh_token=REFRESH_TOKEN)
    account.refresh_token = NEW_REFRESH
    account.save(update_fields=["refresh_token"])

    assert stored(account) == digests(NEW_REFRESH)


def test_bulk_create_stores_them():
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    user = get_user_model().objects.create_user("bulk")
    [account] = GoogleAccount.objects.bulk_create(
        [
            GoogleAccount(
                user=user,
                sub="bulk-sub",
                access_token="ya29.x",
                refresh_token=REFRESH_TOKEN,
                expires_at=timezone.now(),
            )
        ]
    )

    assert stored(GoogleAccount.objects.get(sub="bulk-sub")) == digests(REFRESH_TOKEN)


@pytest.mark.django_db(transaction=True)
def test_migration_0007_backfills_in_batches_and_skips_undecryptable_rows(settings, monkeypatch):
    from importlib import import_module

    migration = import_module("google_connect.migrations.0007_backfill_refresh_token_digests")
    monkeypatch.setattr(migration, "BATCH", 2)
    executor = MigrationExecutor(connection)
    before = [("google_connect", "0006_googlesecurityevent_refresh_token_digests")]
    after = [("google_connect", "0007_backfill_refresh_token_digests")]
    executor.migrate(before)
    # The model as it was at 0006: later migrations add columns.
    old_model = executor.loader.project_state(before).apps.get_model(
        "google_connect", "GoogleAccount"
    )

    def old_account(refresh_token):
        n = old_model.objects.count()
        return old_model.objects.create(
            user_id=get_user_model().objects.create_user(f"migrated{n}").pk,
            sub=f"migrated-{n}",
            access_token="ya29.MIGRATED",
            refresh_token=refresh_token,
            expires_at=timezone.now(),
        )

    try:
        readable = [old_account(f"1//BACKFILL-{n}") for n in range(3)]
        settings.FERNET_KEYS = ["a-key-since-removed"]
        lost = old_account("1//LOST-KEY-TOKEN")
        settings.FERNET_KEYS = ["tests-fernet-key-one"]
        no_token = old_account("")
        old_model.objects.update(refresh_token_prefix_digest="", refresh_token_digest="")

        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )

    for n, account in enumerate(readable):
        assert stored(account) == digests(f"1//BACKFILL-{n}")
    values = GoogleAccount.objects.filter(pk__in=[lost.pk, no_token.pk]).values_list(
        "refresh_token_prefix_digest", "refresh_token_digest"
    )
    assert list(values) == [("", ""), ("", "")]


def test_the_backfill_is_non_atomic():
    from importlib import import_module

    migration = import_module("google_connect.migrations.0007_backfill_refresh_token_digests")

    assert migration.Migration.atomic is False
