"""Accounts in a database other than ``default``, and a primary/replica router (issue 11, item 1).

Every lock, read-for-update and write of an existing account goes to one
alias, ``router.db_for_write(GoogleAccount, instance=account)``: the
account's own database unless a router says otherwise.
"""

import json
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler
from django.test import Client
from django.utils import timezone

from google_connect.fields import UNDECRYPTABLE
from google_connect.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation
from tests.support import finish_flow, start_flow

BOTH = ["default", "other"]
pytestmark = [pytest.mark.django_db(databases=BOTH), pytest.mark.usefixtures("no_backoff")]

NEW_TOKEN = {"access_token": "ya29.REFRESHED", "expires_in": 3599, "token_type": "Bearer"}
CHANGELIST = "/admin/google_connect/googleaccount/"


class PrimaryReplicaRouter:
    """The pattern of Django's multi-database docs: google_connect's rows are
    read from ``other`` (the replica) and written to ``default`` (the primary)."""

    def db_for_read(self, model, **hints):
        return "other" if model._meta.app_label == "google_connect" else None

    def db_for_write(self, model, **hints):
        return "default" if model._meta.app_label == "google_connect" else None

    def allow_relation(self, obj1, obj2, **hints):
        return True


def make_user(db, username, pk=None, **extra):
    manager = get_user_model().objects.db_manager(db)
    if pk is not None:
        extra["pk"] = pk
    return manager.create_user(username, **extra)


def make_account(db, user, pk, label, **fields):
    values = {
        "sub": f"sub-{label}",
        "email": f"{label}@example.com",
        "access_token": f"ya29.{label.upper()}-ACCESS",
        "refresh_token": f"1//{label.upper()}-REFRESH",
        "expires_at": timezone.now() + timedelta(hours=1),
        "scopes": "openid email",
    }
    values.update(fields)
    return GoogleAccount.objects.using(db).create(pk=pk, user_id=user.pk, **values)


def row(db, pk):
    """The stored row, tokens included (undecryptable ones as the marker)."""
    account = GoogleAccount.objects.using(db).filter(pk=pk).first()
    if account is None:
        return None
    names = ("access_token", "refresh_token", "expires_at", "status", "updated_at")
    return {name: account.__dict__[name] for name in names}


def revoked_tokens(google):
    return [
        parse_qs(call.request.body)["token"][0]
        for call in google.mock.calls
        if call.request.url == google.config.REVOKE_URL
    ]


@pytest.fixture
def alice_and_bob():
    """Alice's account in ``default`` and Bob's in ``other``, both with pk 1."""
    alice = make_user("default", "alice-db", pk=1)
    bob = make_user("other", "bob-db", pk=1)
    return (
        make_account("default", alice, 1, "alice"),
        make_account("other", bob, 1, "bob", expires_at=timezone.now() - timedelta(minutes=1)),
    )


# -- an account in the non-default database -------------------------------------


def test_refresh_of_an_account_in_another_database_uses_its_own_row(google, alice_and_bob):
    alice_account, bob_account = alice_and_bob
    before = row("default", 1)
    google.token(NEW_TOKEN)

    assert bob_account.get_access_token() == "ya29.REFRESHED"

    assert google.token_requests()[0]["refresh_token"] == ["1//BOB-REFRESH"]
    assert row("other", 1)["access_token"] == "ya29.REFRESHED"
    assert row("default", 1) == before


def test_disconnect_of_an_account_in_another_database_deletes_only_it(google, alice_and_bob):
    alice_account, bob_account = alice_and_bob
    before = row("default", 1)
    google.revoke()

    assert bob_account.disconnect() is True

    assert revoked_tokens(google) == ["1//BOB-REFRESH"]
    assert row("other", 1) is None
    assert row("default", 1) == before


def test_revoke_command_takes_a_database(google, alice_and_bob):
    before = row("default", 1)
    google.revoke()
    out = StringIO()

    call_command("revoke_google_accounts", "--all", "--database", "other", stdout=out)

    assert out.getvalue().strip() == "1 revoked, 0 already revoked, 0 failed"
    assert revoked_tokens(google) == ["1//BOB-REFRESH"]
    assert row("other", 1) is None
    assert row("default", 1) == before


def test_rotation_command_takes_a_database(settings, alice_and_bob):
    settings.FERNET_KEYS = ["new-key", "tests-fernet-key-one"]
    out = StringIO()

    call_command("rotate_google_token_keys", "--database", "other", stdout=out)

    assert out.getvalue().strip() == (
        "1 account, 0 pending revocations re-encrypted, 0 already current, 0 undecryptable"
    )
    # Only the new key left: Bob's row (rotated) still reads, Alice's does not.
    settings.FERNET_KEYS = ["new-key"]
    assert row("other", 1)["refresh_token"] == "1//BOB-REFRESH"
    assert row("default", 1)["refresh_token"] is UNDECRYPTABLE


def test_rotation_dry_run_counts_the_chosen_database(settings, alice_and_bob):
    make_account("other", get_user_model().objects.db_manager("other").get(pk=1), 2, "bob2")
    settings.FERNET_KEYS = ["new-key", "tests-fernet-key-one"]

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("rotate_google_token_keys", "--database", "nope", stdout=out)
    call_command("rotate_google_token_keys", "--database", "other", "--dry-run", stdout=out)

    assert (
        out.getvalue()
        .strip()
        .endswith(
            "2 accounts, 0 pending revocations would be re-encrypted, 0 already current, "
            "0 undecryptable"
        )
    )


def test_the_refresh_locks_its_row_even_on_sqlite(google, alice_and_bob, monkeypatch):
    """A check that runs on every backend, SQLite included (which ignores
    FOR UPDATE): the refresh's read of the row is a read-for-update, on the
    account's own database."""
    _, bob_account = alice_and_bob
    executed = []
    original = SQLCompiler.execute_sql

    def spy(self, *args, **kwargs):
        if self.query.model is GoogleAccount:
            executed.append((self.using, self.query.select_for_update))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "execute_sql", spy)
    google.token(NEW_TOKEN)

    bob_account.get_access_token()

    assert executed[0] == ("other", True)
    assert all(using == "other" for using, _ in executed)


# -- a primary/replica router -----------------------------------------------------


@pytest.fixture
def replica_router(settings):
    settings.DATABASE_ROUTERS = [PrimaryReplicaRouter()]


@pytest.fixture
def locked_reads(monkeypatch):
    """(database, in a transaction there?) for every read-for-update of an account.

    PostgreSQL refuses a read-for-update outside a transaction; SQLite
    ignores FOR UPDATE, so this is what shows the mistake there.
    """
    reads = []
    original = SQLCompiler.execute_sql

    def spy(self, *args, **kwargs):
        if self.query.model is GoogleAccount and self.query.select_for_update:
            reads.append((self.using, connections[self.using].in_atomic_block))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "execute_sql", spy)
    return reads


@pytest.fixture
def mirrored(user):
    """Alice and her account on the primary and (replicated) on the replica."""
    make_user("other", user.username, pk=user.pk)
    fields = {"expires_at": timezone.now() - timedelta(minutes=1)}
    make_account("default", user, 7, "mine", **fields)
    make_account("other", user, 7, "mine", **fields)
    return user


def replica_row():
    return row("other", 7)


@pytest.mark.django_db(databases=BOTH, transaction=True)
def test_get_access_token_with_a_replica_router(google, replica_router, mirrored, locked_reads):
    on_replica = replica_row()
    account = GoogleAccount.objects.get(pk=7)
    assert account._state.db == "other"
    google.token(NEW_TOKEN)

    assert account.get_access_token() == "ya29.REFRESHED"

    assert row("default", 7)["access_token"] == "ya29.REFRESHED"
    assert replica_row() == on_replica
    assert locked_reads and set(locked_reads) == {("default", True)}


@pytest.mark.django_db(databases=BOTH, transaction=True)
def test_disconnect_view_with_a_replica_router(google, replica_router, mirrored, locked_reads):
    on_replica = replica_row()
    google.revoke()
    client = Client()
    client.force_login(mirrored)

    response = client.post("/google/accounts/7/disconnect")

    assert response.status_code == 302
    assert revoked_tokens(google) == ["1//MINE-REFRESH"]
    assert row("default", 7) is None
    assert replica_row() == on_replica
    assert locked_reads == [("default", True)]


@pytest.mark.django_db(databases=BOTH, transaction=True)
def test_connect_view_with_a_replica_router(google, replica_router, user):
    make_user("other", user.username, pk=user.pk)
    client = Client()
    client.force_login(user)
    google.token()
    google.userinfo()
    params = start_flow(client)

    response = finish_flow(client, params["state"])

    assert response.status_code == 200
    assert GoogleAccount.objects.using("default").count() == 1
    assert GoogleAccount.objects.using("other").count() == 0


@pytest.mark.django_db(databases=BOTH, transaction=True)
def test_admin_actions_with_a_replica_router(google, replica_router, mirrored, locked_reads):
    admin = make_user("default", "admin", is_staff=True, is_superuser=True)
    on_replica = replica_row()
    client = Client()
    client.force_login(admin)
    google.token(NEW_TOKEN)
    google.revoke()

    refreshed = client.post(
        CHANGELIST, {"action": "refresh_access_token", "_selected_action": [7]}, follow=True
    )
    assert refreshed.status_code == 200
    assert row("default", 7)["access_token"] == "ya29.REFRESHED"

    removed = client.post(
        CHANGELIST, {"action": "revoke_and_remove", "_selected_action": [7]}, follow=True
    )
    assert removed.status_code == 200
    assert [str(m) for m in removed.context["messages"]][-1] == (
        "Revoked and removed mine@example.com."
    )
    assert row("default", 7) is None
    assert replica_row() == on_replica
    assert locked_reads and set(locked_reads) == {("default", True)}


# -- commands and tasks act where the router writes (issue 22, item 2) --------------


class OtherRouter:
    """A site that keeps google_connect's tables in ``other``, not ``default``."""

    def db_for_read(self, model, **hints):
        return "other" if model._meta.app_label == "google_connect" else None

    def db_for_write(self, model, **hints):
        return "other" if model._meta.app_label == "google_connect" else None

    def allow_relation(self, obj1, obj2, **hints):
        return True


# The name the mutation tests use for the same router.
OtherDatabaseRouter = OtherRouter


@pytest.fixture
def other_router(settings):
    settings.DATABASE_ROUTERS = [OtherRouter()]


@pytest.fixture
def on_other_under_the_old_key(settings, other_router):
    """An account and a pending revocation in ``other``, under the old key only."""
    settings.FERNET_KEYS = ["tests-fernet-key-one"]
    bob = make_user("other", "bob-db", pk=1)
    account = make_account("other", bob, 1, "bob")
    PendingRevocation.objects.using("other").create(token="1//GONE-REFRESH", sub="gone")
    settings.FERNET_KEYS = ["new-key", "tests-fernet-key-one"]
    return account


def command(name, *args):
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_rotation_without_database_re_encrypts_the_routers_database(
    settings, on_other_under_the_old_key
):
    out = command("rotate_google_token_keys")

    assert out == (
        "1 account, 1 pending revocation re-encrypted, 0 already current, 0 undecryptable"
    )
    settings.FERNET_KEYS = ["new-key"]
    assert row("other", 1)["refresh_token"] == "1//BOB-REFRESH"
    assert PendingRevocation.objects.using("other").get().token == "1//GONE-REFRESH"


def test_revoke_without_database_revokes_in_the_routers_database(google, other_router):
    bob = make_user("other", "bob-db", pk=1)
    make_account("other", bob, 1, "bob")
    google.revoke()

    out = command("revoke_google_accounts", "--all")

    assert out == "1 revoked, 0 already revoked, 0 failed"
    assert revoked_tokens(google) == ["1//BOB-REFRESH"]
    assert row("other", 1) is None


def test_check_google_accounts_without_database_reports_the_routers_database(replica_router):
    make_account("default", make_user("default", "alice-db", pk=1), 1, "alice")

    out = command("check_google_accounts", "--json")

    assert json.loads(out)["accounts"] == 1


def test_check_google_accounts_takes_a_database(alice_and_bob):
    make_account("other", get_user_model().objects.db_manager("other").get(pk=1), 2, "bob2")

    out = command("check_google_accounts", "--json", "--database", "other")

    assert json.loads(out)["accounts"] == 2


@pytest.mark.django_db(databases=[*BOTH, "fake_google"])
@pytest.mark.parametrize(
    "args",
    [
        ("rotate_google_token_keys", "--dry-run"),
        ("revoke_google_accounts", "--all", "--dry-run"),
        ("revoke_google_accounts", "--pending", "--dry-run"),
        ("check_google_accounts",),
    ],
)
def test_a_database_without_google_connect_tables_is_a_command_error(args):
    with pytest.raises(CommandError) as raised:
        command(*args, "--database", "fake_google")

    assert str(raised.value) == (
        "Database 'fake_google' has no google_connect tables (google_connect_googleaccount, "
        "google_connect_pendingrevocation missing): pass the --database google_connect is "
        "migrated to, or run migrate --database fake_google."
    )


@pytest.mark.parametrize(
    "args",
    [
        ("rotate_google_token_keys",),
        ("revoke_google_accounts", "--all", "--dry-run"),
        ("check_google_accounts",),
    ],
)
def test_an_unknown_database_alias_is_a_command_error(args):
    with pytest.raises(CommandError) as raised:
        command(*args, "--database", "nope")

    assert str(raised.value) == (
        "Unknown database 'nope': DATABASES has 'default', 'fake_google', 'other'."
    )


def test_the_keep_alive_task_refreshes_accounts_where_the_router_writes(google, replica_router):
    from google_connect import tasks

    idle = timezone.now() - timedelta(days=200)
    alice = make_user("default", "alice-db", pk=1)
    make_account("default", alice, 1, "alice", last_refreshed_at=idle)
    google.token(NEW_TOKEN)

    counts = tasks.keep_alive.run()

    assert counts == {"refreshed": 1, "reconnect_required": 0, "failed": 0}
    assert row("default", 1)["access_token"] == "ya29.REFRESHED"


def test_the_expiry_warning_task_warns_where_the_router_writes(replica_router):
    from google_connect import tasks

    alice = make_user("default", "alice-db", pk=1)
    make_account(
        "default", alice, 1, "alice", refresh_token_expires_at=timezone.now() + timedelta(days=2)
    )

    assert tasks.send_expiry_warnings.run() == {"warned": 1, "failed": 0}


def test_the_health_summary_counts_undecryptable_rows_where_the_router_puts_them(settings):
    from google_connect.store import health

    settings.DATABASE_ROUTERS = [OtherDatabaseRouter()]
    bob = make_user("other", "bob-db", pk=1)
    make_account("other", bob, 1, "kept")
    settings.FERNET_KEYS = ["another-key"]
    make_account("other", bob, 2, "lost")
    settings.FERNET_KEYS = ["tests-fernet-key-one"]

    summary = health.summary()

    assert summary["accounts"] == 2
    assert summary["undecryptable"] == {"count": 1, "ids": [2]}


def test_a_deletion_in_another_database_keeps_its_pending_revocation_there():
    from google_connect.store.pending_revocation import PendingRevocation

    bob = make_user("other", "bob-db", pk=1)
    make_account("other", bob, 1, "bob")

    bob.delete()  # in the test's transaction: pending, not revoked yet

    assert PendingRevocation.objects.using("other").get().token == "1//BOB-REFRESH"
    assert not PendingRevocation.objects.using("default").exists()
