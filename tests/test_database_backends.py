"""What google_connect needs from the database, proven on whichever one runs the suite.

tox runs this module on SQLite, PostgreSQL and MariaDB. Tokens live in binary
columns (Fernet ciphertext), ``sub`` is unique, and ``GoogleAccount.objects
.connect`` relies on row locks and on a failed INSERT not poisoning the
transaction around it. SQLite has no row locks, so the locking tests run only
where ``select_for_update`` exists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.db import DatabaseError, IntegrityError, connection, transaction
from fernet_fields import hkdf

from google_connect.google.answers import TokenResponse, UserInfo
from google_connect.models import GoogleAccount
from tests.factories import make_account

# Long enough for a thread that is not blocked to get through a SELECT and an
# INSERT; a blocked one stays blocked however long this is.
SETTLE_SECONDS = 0.5
JOIN_TIMEOUT = 30


def raw_tokens(pk: int) -> tuple[Any, Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM google_connect_googleaccount WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def decrypt(raw: Any, key: str) -> str:
    return Fernet(hkdf.derive_fernet_key(key)).decrypt(bytes(raw)).decode()


@pytest.fixture
def row_locks():
    if not connection.features.has_select_for_update:
        pytest.skip(f"{connection.vendor} has no row locks")


class InThread(threading.Thread):
    """Runs ``target`` on its own database connection and keeps its outcome."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.target_fn = target
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.result = self.target_fn()
        except BaseException as exc:  # handed to the test thread, which asserts on it
            self.error = exc
        finally:
            self.done.set()
            # A connection left open would stop the test database from being dropped.
            connection.close()

    def outcome(self) -> Any:
        self.join(JOIN_TIMEOUT)
        assert not self.is_alive(), "the other connection never finished"
        if self.error is not None:
            raise self.error
        return self.result


# -- encrypted tokens in binary columns --------------------------------------------


@pytest.mark.django_db
def test_token_columns_hold_bytes_not_text(settings):
    account = make_account(access_token="ya29.BINARY", refresh_token="1//BINARY")

    raw_access, raw_refresh = raw_tokens(account.pk)

    # A text column would come back as str (and MariaDB would apply a collation).
    assert isinstance(raw_access, bytes | memoryview)
    assert isinstance(raw_refresh, bytes | memoryview)
    assert decrypt(raw_access, settings.FERNET_KEYS[0]) == "ya29.BINARY"
    assert decrypt(raw_refresh, settings.FERNET_KEYS[0]) == "1//BINARY"


@pytest.mark.django_db
def test_longest_accepted_token_round_trips():
    # answers.MAX_TOKEN_LENGTH: the longest token the client accepts from Google.
    token = "ya29." + "A1b2-_." * 584 + "z"
    assert len(token) == 4094

    account = make_account(access_token=token, refresh_token="")

    stored = GoogleAccount.objects.get(pk=account.pk)
    assert stored.access_token == token
    assert stored.refresh_token == ""


@pytest.mark.django_db
def test_non_ascii_text_round_trips():
    account = make_account(access_token="ya29.é-ß-ünïcode-✓")

    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.é-ß-ünïcode-✓"


@pytest.mark.django_db
def test_queryset_update_encrypts_too(settings):
    account = make_account(access_token="ya29.BEFORE")

    GoogleAccount.objects.filter(pk=account.pk).update(access_token="ya29.AFTER")

    raw_access, _ = raw_tokens(account.pk)
    assert b"AFTER" not in bytes(raw_access)
    assert decrypt(raw_access, settings.FERNET_KEYS[0]) == "ya29.AFTER"
    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.AFTER"


# -- the unique sub ------------------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_sub_fails_in_a_savepoint_and_the_transaction_goes_on():
    # connect() retries after an IntegrityError inside transaction.atomic();
    # that only works if the failed INSERT leaves the outer transaction usable
    # (PostgreSQL aborts the whole transaction unless a savepoint wraps it).
    first = make_account(sub="109876543210987654321")

    with pytest.raises(IntegrityError), transaction.atomic():
        make_account(sub="109876543210987654321")

    assert list(GoogleAccount.objects.values_list("pk", flat=True)) == [first.pk]


# -- row locks -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_locked_row_cannot_be_locked_again_without_waiting(row_locks):
    if not connection.features.has_select_for_update_nowait:
        pytest.skip(f"{connection.vendor} has no NOWAIT")
    account = make_account()

    def lock_nowait():
        with transaction.atomic():
            GoogleAccount.objects.select_for_update(nowait=True).get(pk=account.pk)

    with transaction.atomic():
        GoogleAccount.objects.select_for_update().get(pk=account.pk)
        other = InThread(lock_nowait)
        other.start()
        with pytest.raises(DatabaseError):
            other.outcome()


@pytest.mark.django_db(transaction=True)
def test_a_second_locker_waits_for_the_commit_and_sees_it(row_locks):
    account = make_account(access_token="ya29.OLD")

    def lock_and_read():
        with transaction.atomic():
            return GoogleAccount.objects.select_for_update().get(pk=account.pk).access_token

    with transaction.atomic():
        GoogleAccount.objects.select_for_update().get(pk=account.pk)
        other = InThread(lock_and_read)
        other.start()
        assert not other.done.wait(SETTLE_SECONDS), "the second locker did not wait"
        GoogleAccount.objects.filter(pk=account.pk).update(access_token="ya29.NEW")

    assert other.outcome() == "ya29.NEW"


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_connects_of_one_sub_make_one_row(row_locks, user):
    # The second callback waits on the first one's uncommitted row (PostgreSQL
    # in the INSERT, on the unique index; InnoDB already in the locking SELECT).
    # Once the first commits, the second either fails on the unique sub and
    # connect() retries, or finds the row: either way it updates, never duplicates.
    userinfo = UserInfo(sub="109876543210987654321", email="john.doe@example.com")

    def tokens(access_token: str) -> TokenResponse:
        return TokenResponse(
            access_token=access_token,
            expires_in=3599,
            token_type="Bearer",
            scopes=("openid",),
            refresh_token="1//REFRESH",
        )

    def second_callback():
        _, created = GoogleAccount.objects.connect(
            user=user, tokens=tokens("ya29.SECOND"), userinfo=userinfo, requested_scopes=()
        )
        return created

    with transaction.atomic():
        _, first_created = GoogleAccount.objects.connect(
            user=user, tokens=tokens("ya29.FIRST"), userinfo=userinfo, requested_scopes=()
        )
        other = InThread(second_callback)
        other.start()
        time.sleep(SETTLE_SECONDS)
        assert not other.done.is_set(), "the second callback did not wait for the first"

    assert (first_created, other.outcome()) == (True, False)
    account = GoogleAccount.objects.get()
    assert account.access_token == "ya29.SECOND"
    assert account.user_id == user.pk
