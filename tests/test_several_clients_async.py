"""Several OAuth clients on the async paths: the async engine's bulk refresh,
keep-alive and revoke, ``aget_access_token`` and ``aauthorized_session()``
(with the sync ``authorized_session()`` beside it) each use the account's own
client, against a stand-in Google on 127.0.0.1 that keeps every form it was
sent. (tests/test_several_clients.py has the sync paths, on ``responses``.)"""

import asyncio
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from google_connect.exceptions import ReconnectRequired
from google_connect.models import GoogleAccount
from google_connect.store import bulk
from tests.factories import make_account
from tests.stub_google import StubGoogle

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT = ("test-client-id.apps.googleusercontent.com", "TEST-CLIENT-SECRET-do-not-leak")
B = ("brand-b-id.apps.googleusercontent.com", "B-SECRET")
REMOVED_ID = "removed-id.apps.googleusercontent.com"


@pytest.fixture
def stand_in(settings):
    with StubGoogle(token_delay=0) as stub:
        settings.GOOGLE_CONNECT = {
            **settings.GOOGLE_CONNECT,
            "TOKEN_URL": stub.token_url,
            "REVOKE_URL": stub.revoke_url,
            "CLIENTS": {"brand-b": {"CLIENT_ID": B[0], "CLIENT_SECRET": B[1]}},
        }
        yield stub


def one_of_each_client(**fields):
    """An account of the default client, one stored before clients were
    recorded (empty id: the default client's) and one of brand-b."""
    return [make_account(client_id=client_id, **fields) for client_id in (DEFAULT[0], "", B[0])]


def sent_with(stub):
    """The client id and secret each refresh token was sent with."""
    return {
        form["refresh_token"]: (form["client_id"], form["client_secret"])
        for endpoint, form in stub.forms
        if endpoint == "token"
    }


def own_clients(accounts):
    return dict(zip([a.refresh_token for a in accounts], [DEFAULT, DEFAULT, B], strict=True))


def expiring(**fields):
    return one_of_each_client(expires_at=timezone.now() + timedelta(minutes=2), **fields)


def expired(**fields):
    return one_of_each_client(expires_at=timezone.now() - timedelta(minutes=5), **fields)


def test_refresh_expiring_on_the_engine_uses_each_accounts_own_client(stand_in):
    accounts = expiring()
    out = StringIO()

    call_command("check_google_accounts", "--refresh-expiring", "--concurrency", "4", stdout=out)

    assert "expiring: 3 refreshed, 0 reconnect required, 0 failed" in out.getvalue()
    assert sent_with(stand_in) == own_clients(accounts)


def test_keep_alive_on_the_engine_uses_each_accounts_own_client(stand_in):
    accounts = one_of_each_client()
    GoogleAccount.objects.update(
        created_at=timezone.now() - timedelta(days=200), last_refreshed_at=None
    )
    out = StringIO()

    call_command("check_google_accounts", "--keep-alive", "--concurrency", "4", stdout=out)

    assert "3 refreshed, 0 reconnect required, 0 failed" in out.getvalue()
    assert sent_with(stand_in) == own_clients(accounts)


def test_the_engine_gives_an_account_of_a_removed_client_client_removed_without_a_call(
    stand_in,
):
    [account] = [make_account(client_id=REMOVED_ID, expires_at=timezone.now())]
    out = StringIO()

    call_command("check_google_accounts", "--refresh-expiring", "--concurrency", "4", stdout=out)

    assert "expiring: 0 refreshed, 1 reconnect required, 0 failed" in out.getvalue()
    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "client_removed")
    assert stand_in.forms == []


def test_aget_access_token_refreshes_with_each_accounts_own_client(stand_in):
    accounts = expired()

    async def all_at_once():
        return await asyncio.gather(*(account.aget_access_token() for account in accounts))

    bulk.run(all_at_once())

    assert sent_with(stand_in) == own_clients(accounts)


def test_aget_access_token_of_an_account_of_a_removed_client_is_client_removed(stand_in):
    account = make_account(client_id=REMOVED_ID, expires_at=timezone.now())

    with pytest.raises(ReconnectRequired):
        bulk.run(account.aget_access_token())

    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "client_removed")
    assert stand_in.forms == []


def test_authorized_session_refreshes_with_the_accounts_own_client(stand_in):
    account = make_account(client_id=B[0], expires_at=timezone.now())

    response = account.authorized_session().get(stand_in.userinfo_url)

    assert response.status_code == 200
    assert sent_with(stand_in) == {account.refresh_token: B}


def test_aauthorized_session_refreshes_with_the_accounts_own_client(stand_in):
    account = make_account(client_id=B[0], expires_at=timezone.now())

    async def call_api():
        async with await account.aauthorized_session() as session:
            return (await session.get(stand_in.userinfo_url)).status

    assert bulk.run(call_api()) == 200
    assert sent_with(stand_in) == {account.refresh_token: B}


def test_revoke_on_the_engine_revokes_every_clients_accounts_with_the_token_alone(stand_in):
    # Revocation needs no client credentials (RFC 7009 as Google runs it):
    # an account of a removed client is revoked like the others.
    accounts = [*one_of_each_client(), make_account(client_id=REMOVED_ID)]
    out = StringIO()

    call_command("revoke_google_accounts", "--all", "--noinput", "--concurrency", "4", stdout=out)

    assert out.getvalue().strip() == "4 revoked, 0 already revoked, 0 failed"
    forms = sorted((form for _, form in stand_in.forms), key=lambda form: form["token"])
    assert forms == sorted(({"token": a.refresh_token} for a in accounts), key=lambda f: f["token"])
    assert [endpoint for endpoint, _ in stand_in.forms] == ["revoke"] * 4
    assert not GoogleAccount.objects.exists()
