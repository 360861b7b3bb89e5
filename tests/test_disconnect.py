"""account.disconnect(), the disconnect view, and account.revoke()."""

import pytest
from django.db import transaction
from django.test import Client
from responses import matchers

from google_connect.exceptions import GoogleConnectError
from google_connect.google import retry
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_disconnected
from tests.factories import make_account
from tests.support import recording

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


@pytest.fixture
def account(user):
    return make_account(
        user, email="mine@example.com", refresh_token="1//MINE", access_token="ya29.MINE"
    )


@pytest.fixture
def disconnected():
    with recording(google_account_disconnected) as sent:
        yield sent


def disconnect_url(account):
    return f"/google/accounts/{account.pk}/disconnect"


@pytest.mark.django_db(transaction=True)
def test_disconnect_revokes_the_refresh_token_deletes_and_signals(google, account, disconnected):
    revoke = google.revoke(match=[matchers.urlencoded_params_matcher({"token": "1//MINE"})])

    assert account.disconnect() is True

    assert revoke.call_count == 1
    assert not GoogleAccount.objects.exists()
    [kwargs] = disconnected
    assert kwargs["sender"] is GoogleAccount
    assert kwargs["account"].pk == account.pk
    assert kwargs["request"] is None


def test_without_a_refresh_token_the_access_token_is_revoked(google, user):
    account = make_account(user, refresh_token="", access_token="ya29.ONLY")
    revoke = google.revoke(match=[matchers.urlencoded_params_matcher({"token": "ya29.ONLY"})])

    account.disconnect()

    assert revoke.call_count == 1


def test_an_already_revoked_grant_counts_as_revoked(google, account):
    google.revoke(status=400, body={"error": "invalid_token", "error_description": "Token expired"})

    assert account.disconnect() is False
    assert not GoogleAccount.objects.exists()


@pytest.mark.parametrize("status", [500, 503])
def test_a_failed_revoke_keeps_the_row(google, account, status, disconnected):
    google.revoke(status=status)

    with pytest.raises(GoogleConnectError):
        account.disconnect()

    assert GoogleAccount.objects.filter(pk=account.pk).exists()
    assert disconnected == []


def test_a_400_other_than_invalid_token_keeps_the_row(google, account):
    google.revoke(status=400, body={"error": "invalid_request"})

    with pytest.raises(GoogleConnectError):
        account.disconnect()

    assert GoogleAccount.objects.filter(pk=account.pk).exists()


def test_revoke_keeps_the_row(google, account):
    google.revoke()

    assert account.revoke() is True
    assert GoogleAccount.objects.filter(pk=account.pk).exists()


# -- the view ------------------------------------------------------------------------


def test_owner_disconnects_and_is_redirected(alice, google, account):
    google.revoke()

    response = alice.post(disconnect_url(account))

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not GoogleAccount.objects.exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    # The user's last account: the page behind the redirect lists none now.
    assert messages == ["You disconnected mine@example.com; no Google account is connected now."]


def test_disconnecting_one_of_several_accounts_names_only_that_one(alice, google, account, user):
    make_account(user, email="other@example.com")
    google.revoke()

    response = alice.post(disconnect_url(account))

    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["mine@example.com is disconnected."]


def test_safe_next_and_success_url(alice, google, user, settings):
    google.revoke()
    first, second = make_account(user), make_account(user)

    assert alice.post(disconnect_url(first), {"next": "/settings/"})["Location"] == "/settings/"
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "SUCCESS_URL": "/accounts/"}
    response = alice.post(disconnect_url(second), {"next": "https://evil.example/"})
    assert response["Location"] == "/accounts/"


def test_get_is_refused(alice, account):
    assert alice.get(disconnect_url(account)).status_code == 405
    assert GoogleAccount.objects.exists()


def test_another_users_account_is_a_404(client, other_user, account, google):
    client.force_login(other_user)

    assert client.post(disconnect_url(account)).status_code == 404
    assert GoogleAccount.objects.exists()
    assert len(google.mock.calls) == 0


def test_anonymous_is_sent_to_login(client, account):
    response = client.post(disconnect_url(account))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert GoogleAccount.objects.exists()


def test_missing_csrf_token_is_refused(user, account, google):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(disconnect_url(account)).status_code == 403
    assert GoogleAccount.objects.exists()
    assert len(google.mock.calls) == 0


def test_unreachable_google_keeps_the_account_and_says_so(alice, google, account):
    # No revoke answer registered: every attempt is a refused connection.
    response = alice.post(disconnect_url(account))

    assert response.status_code == 302
    assert GoogleAccount.objects.filter(pk=account.pk).exists()
    [message] = [str(m) for m in response.wsgi_request._messages]
    assert message.startswith(
        "Google could not be reached, so mine@example.com is still connected."
    )


def test_without_the_messages_framework_a_failure_page_is_shown(alice, google, account, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "messages" not in m]
    google.revoke(status=503)

    response = alice.post(disconnect_url(account))

    assert response.status_code == 503
    assert "still connected" in response.content.decode()
    assert GoogleAccount.objects.filter(pk=account.pk).exists()


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_a_disconnect_rolled_back_sends_no_signal(
    google, account, disconnected, django_capture_on_commit_callbacks
):
    google.revoke()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        assert account.disconnect() is True
        raise RuntimeError("the rest of the request failed")

    assert disconnected == []
    assert GoogleAccount.objects.filter(pk=account.pk).exists()
