"""Accounts with no usable token can always be removed, and the disconnect view
says what happened (issue 11, item 2)."""

import logging

import pytest
import requests

from google_connect.exceptions import UndecryptableToken
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_disconnected
from tests.factories import make_account
from tests.support import recording

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_backoff")]


@pytest.fixture
def blanked(user):
    """What ``revoke_google_accounts --keep-local`` leaves: no token at all."""
    return make_account(
        user,
        email="blank@example.com",
        access_token="",
        refresh_token="",
        status=GoogleAccount.Status.RECONNECT_REQUIRED,
    )


@pytest.fixture
def undecryptable(user, settings):
    settings.FERNET_KEYS = ["a-key-since-removed"]
    account = make_account(user, email="lost@example.com")
    settings.FERNET_KEYS = ["tests-fernet-key-one"]
    return GoogleAccount.objects.get(pk=account.pk)


def messages_of(response):
    return [str(m) for m in response.wsgi_request._messages]


@pytest.mark.parametrize("fixture", ["blanked", "undecryptable"])
def test_nothing_to_revoke_deletes_without_calling_google(
    request, google, caplog, fixture, django_capture_on_commit_callbacks
):
    account = request.getfixturevalue(fixture)
    caplog.set_level(logging.INFO, logger="google_connect")

    with (
        recording(google_account_disconnected) as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert account.disconnect() is False

    assert len(google.mock.calls) == 0
    assert not GoogleAccount.objects.exists()
    why = "no token is stored" if fixture == "blanked" else "no key in FERNET_KEYS decrypts"
    [record] = [r for r in caplog.records if "without revoking" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert why in record.getMessage()
    # Signalled after the commit, like any disconnect.
    assert [kwargs["account"].pk for kwargs in sent] == [account.pk]


def test_an_undecryptable_refresh_token_revokes_with_the_access_token(google, user, settings):
    settings.FERNET_KEYS = ["a-key-since-removed"]
    account = make_account(user, refresh_token="1//LOST")
    settings.FERNET_KEYS = ["tests-fernet-key-one", "a-key-since-removed"]
    GoogleAccount.objects.filter(pk=account.pk).update(access_token="ya29.READABLE")
    settings.FERNET_KEYS = ["tests-fernet-key-one"]
    google.revoke()

    assert GoogleAccount.objects.get(pk=account.pk).disconnect() is True

    [call] = google.mock.calls
    assert call.request.body == "token=ya29.READABLE"


def test_revoke_with_no_token_stored_is_already_revoked(google, blanked):
    assert blanked.revoke() is False
    assert len(google.mock.calls) == 0


def test_revoke_of_undecryptable_tokens_raises(google, undecryptable):
    with pytest.raises(UndecryptableToken):
        undecryptable.revoke()
    assert len(google.mock.calls) == 0


def test_view_removes_a_blanked_account(alice, google, blanked):
    response = alice.post(f"/google/accounts/{blanked.pk}/disconnect")

    assert response.status_code == 302
    assert not GoogleAccount.objects.exists()
    assert messages_of(response) == [
        "You disconnected blank@example.com; no Google account is connected now."
    ]
    assert len(google.mock.calls) == 0


def test_view_names_an_undecryptable_token(alice, google, undecryptable):
    response = alice.post(f"/google/accounts/{undecryptable.pk}/disconnect")

    assert response.status_code == 302
    assert not GoogleAccount.objects.exists()
    assert messages_of(response) == [
        "lost@example.com is disconnected. Its stored access could not be read, so Google "
        "was not told: remove this site's access in your Google Account too."
    ]


def test_view_does_not_say_google_was_not_told_when_the_access_token_revoked_it(
    alice, google, user, settings
):
    # The refresh token unreadable, the access token readable: revoking it ends the grant.
    settings.FERNET_KEYS = ["a-key-since-removed"]
    account = make_account(user, email="half@example.com", refresh_token="1//LOST")
    settings.FERNET_KEYS = ["tests-fernet-key-one", "a-key-since-removed"]
    GoogleAccount.objects.filter(pk=account.pk).update(access_token="ya29.READABLE")
    settings.FERNET_KEYS = ["tests-fernet-key-one"]
    google.revoke()

    response = alice.post(f"/google/accounts/{account.pk}/disconnect")

    assert messages_of(response) == [
        "You disconnected half@example.com; no Google account is connected now."
    ]
    [call] = google.mock.calls
    assert call.request.body == "token=ya29.READABLE"


@pytest.mark.parametrize(
    "answer",
    [{"status": 400, "json": {"error": "invalid_request"}}, {"status": 503, "json": {}}],
)
def test_view_says_google_answered_with_an_error(alice, google, user, answer):
    account = make_account(user, email="mine@example.com")
    for _ in range(4):
        google.mock.post(google.config.REVOKE_URL, **answer)

    response = alice.post(f"/google/accounts/{account.pk}/disconnect")

    assert messages_of(response) == [
        "Google answered with an error, so mine@example.com is still connected. "
        "Please try again later."
    ]
    assert GoogleAccount.objects.filter(pk=account.pk).exists()


def test_view_says_google_could_not_be_reached_only_without_an_answer(alice, google, user):
    account = make_account(user, email="mine@example.com")
    for _ in range(4):
        google.mock.post(google.config.REVOKE_URL, body=requests.ConnectTimeout("slow"))

    response = alice.post(f"/google/accounts/{account.pk}/disconnect")

    assert messages_of(response) == [
        "Google could not be reached, so mine@example.com is still connected. "
        "Please try again in a few minutes."
    ]
