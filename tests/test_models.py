from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.db.models import signals
from django.utils import timezone
from fernet_fields import hkdf

from google_connect.google.answers import TokenResponse, UserInfo
from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.support import recording

pytestmark = pytest.mark.django_db


def raw_token_columns(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM google_connect_googleaccount WHERE id = %s",
            [pk],
        )
        return [bytes(value) for value in cursor.fetchone()]


def test_tokens_are_encrypted_in_the_database(settings):
    account = make_account(access_token="ya29.PLAINTEXT-ACCESS", refresh_token="1//PLAINTEXT-R")

    raw_access, raw_refresh = raw_token_columns(account.pk)

    assert b"PLAINTEXT" not in raw_access
    assert b"PLAINTEXT" not in raw_refresh
    fernet = Fernet(hkdf.derive_fernet_key(settings.FERNET_KEYS[0]))
    assert fernet.decrypt(raw_access) == b"ya29.PLAINTEXT-ACCESS"
    assert fernet.decrypt(raw_refresh) == b"1//PLAINTEXT-R"


def test_tokens_read_back_decrypted():
    account = make_account(access_token="ya29.ROUND-TRIP")

    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.ROUND-TRIP"


def test_a_changed_fernet_key_list_is_picked_up(settings):
    account = make_account(access_token="ya29.OLD-KEY")
    settings.FERNET_KEYS = ["a-new-key", *settings.FERNET_KEYS]

    # Still readable through the old key, and new writes use the new one.
    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.OLD-KEY"
    account.save(update_fields=["access_token"])
    raw_access, _ = raw_token_columns(account.pk)
    assert Fernet(hkdf.derive_fernet_key("a-new-key")).decrypt(raw_access) == b"ya29.OLD-KEY"


def test_str_and_repr_show_who_and_never_a_token():
    account = make_account(
        email="who@example.com", sub="42", access_token="ya29.SECRET-A", refresh_token="1//SECRET-R"
    )

    assert str(account) == "who@example.com"
    assert repr(account) == f"<GoogleAccount id={account.pk} sub='42' email='who@example.com'>"
    for text in (str(account), repr(account)):
        assert "SECRET" not in text


def test_str_falls_back_to_the_sub_without_an_email():
    assert str(make_account(email="", sub="42")) == "Google account 42"


def test_sub_is_unique():
    from django.db import IntegrityError

    make_account(sub="same")
    with pytest.raises(IntegrityError):
        make_account(sub="same")


def test_queryset_filters():
    soon = make_account(expires_at=timezone.now() + timedelta(minutes=2))
    later = make_account(expires_at=timezone.now() + timedelta(hours=2))
    broken = make_account(status=GoogleAccount.Status.RECONNECT_REQUIRED)

    assert set(GoogleAccount.objects.expiring_within(timedelta(minutes=5))) == {soon}
    assert set(GoogleAccount.objects.reconnect_required()) == {broken}
    assert set(GoogleAccount.objects.active()) == {soon, later}


def test_tokens_cannot_be_filtered_on():
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        list(GoogleAccount.objects.filter(access_token="x"))


# -- connect(): what it writes, to which database, and what it tells receivers ---------


def grant(access_token: str) -> TokenResponse:
    return TokenResponse(
        access_token=access_token,
        expires_in=3599,
        token_type="Bearer",
        scopes=("openid", "email"),
        refresh_token="1//CONNECT",
    )


def connect_account(user, access_token):
    return GoogleAccount.objects.connect(
        user=user,
        tokens=grant(access_token),
        userinfo=UserInfo(sub="109876543210987654321", email="alice@example.com"),
        requested_scopes=("openid", "email"),
    )


def test_pre_save_receivers_hear_only_of_rows_that_are_written(user):
    with recording(signals.pre_save, sender=GoogleAccount) as sent:
        connect_account(user, "ya29.FIRST")
        connect_account(user, "ya29.SECOND")
    heard = [kwargs["instance"] for kwargs in sent]

    # One for the INSERT, one for the reconnect's UPDATE: never one for an
    # instance that a stored sub then kept from being written.
    assert len(heard) == 2
    assert all(instance.pk == GoogleAccount.objects.get().pk for instance in heard)
    assert GoogleAccount.objects.get().access_token == "ya29.SECOND"


class ReadsGoElsewhere:
    """A primary/replica router whose replica does not exist: any read routed
    to it fails, so only the write database may be used."""

    def db_for_read(self, model, **hints):
        return "replica" if model is GoogleAccount else None

    def db_for_write(self, model, **hints):
        return "default"


def test_connect_reads_and_writes_on_the_write_database(user, settings):
    settings.DATABASE_ROUTERS = [ReadsGoElsewhere()]

    account, created = connect_account(user, "ya29.FIRST")
    again, created_again = connect_account(user, "ya29.SECOND")

    assert (created, created_again) == (True, False)
    assert again.pk == account.pk
    settings.DATABASE_ROUTERS = []
    assert GoogleAccount.objects.get().access_token == "ya29.SECOND"


class ReceiverFailed(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_first_connect_whose_post_save_receiver_fails_stores_nothing(user):
    # Autocommit, as a callback runs without ATOMIC_REQUESTS: the INSERT and
    # what a post_save receiver writes must still stand or fall together.
    def fail(**kwargs):
        raise ReceiverFailed()

    signals.post_save.connect(fail, sender=GoogleAccount)
    try:
        with pytest.raises(ReceiverFailed):
            connect_account(user, "ya29.FIRST")
    finally:
        signals.post_save.disconnect(fail, sender=GoogleAccount)

    assert not GoogleAccount.objects.exists()
