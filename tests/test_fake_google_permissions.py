"""The stand-in's permissions page: the demo error page's guide, working offline."""

from datetime import timedelta

import pytest
from django.utils import timezone

from example_project import demo
from example_project.fake_google.identities import IDENTITIES
from example_project.fake_google.models import Grant, Token
from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.stand_in import connected_tokens, refresh, stand_in_db

pytestmark = [stand_in_db, pytest.mark.usefixtures("demo_mode")]

PERMISSIONS = "/fake-google/permissions"


def test_lists_each_live_grant_with_its_account_and_permissions(client):
    connected_tokens(client)
    Grant.objects.create(client_id="x", identity="alan", scopes="openid", revoked_at=timezone.now())

    content = client.get(PERMISSIONS).content.decode()

    assert content.count('class="grant"') == 1
    assert "Ada Lovelace &lt;ada.lovelace@example.com&gt;" in content
    assert "See your primary Google Account email address" in content
    assert "Alan Turing" not in content


def test_remove_access_revokes_the_grant_and_its_tokens(client):
    tokens = connected_tokens(client)
    grant = Grant.objects.get()

    response = client.post(PERMISSIONS, {"grant": grant.pk})

    assert (response.status_code, response["Location"]) == (302, PERMISSIONS + "?removed=1")
    assert Grant.objects.get().revoked_at is not None
    assert refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert "No app has access to a demo Google account." in client.get(PERMISSIONS).content.decode()


@pytest.mark.parametrize("grant", ["999", "abc", "", "9" * 30])
def test_removing_an_unknown_grant_is_a_404(client, grant):
    assert client.post(PERMISSIONS, {"grant": grant}).status_code == 404
    assert not Token.objects.exists()


def test_an_account_consenting_twice_is_listed_once(client):
    connected_tokens(client)
    connected_tokens(client)

    content = client.get(PERMISSIONS).content.decode()

    assert content.count('class="grant"') == 1


def test_end_now_is_offered_only_for_a_time_limited_grant(client):
    connected_tokens(client, identity="ada", access="7")
    connected_tokens(client, identity="grace")

    content = client.get(PERMISSIONS).content.decode()

    assert content.count(">End now</button>") == 1
    assert "access until" in content


def test_end_now_ends_a_time_limited_grant_and_its_tokens(client):
    tokens = connected_tokens(client, access="7")
    grant = Grant.objects.get()

    response = client.post(PERMISSIONS, {"grant": grant.pk, "action": "end"})

    assert (response.status_code, response["Location"]) == (302, PERMISSIONS + "?ended=1")
    grant.refresh_from_db()
    assert grant.has_ended() and grant.revoked_at is None
    assert refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    content = client.get(PERMISSIONS + "?ended=1").content.decode()
    assert "Access ended, as if its time had run out." in content
    # Said plainly: Google does not tell the site, the demo moves its date.
    assert "Real Google tells no one when that happens" in content
    assert 'class="grant"' not in content


def test_end_now_moves_the_end_date_the_site_stored_for_that_grant_only(client):
    connected_tokens(client, identity="ada", access="7")
    grant = Grant.objects.get()
    week = timezone.now() + timedelta(days=7)
    ada = IDENTITIES["ada"].sub
    # The site's row of that grant, and rows it must leave alone: the same
    # Google account through another client, another Google account, and
    # ongoing access (no end date to move).
    mine = make_account(sub=ada, client_id=demo.CLIENT_ID, refresh_token_expires_at=week)
    other_client = make_account(sub=ada, client_id="other-client", refresh_token_expires_at=week)
    other_person = make_account(
        sub=IDENTITIES["grace"].sub, client_id=demo.CLIENT_ID, refresh_token_expires_at=week
    )
    ongoing = make_account(sub=ada, client_id="", refresh_token_expires_at=None)

    client.post(PERMISSIONS, {"grant": grant.pk, "action": "end"})

    grant.refresh_from_db()
    mine.refresh_from_db()
    assert mine.refresh_token_expires_at == grant.expires_at
    # Nothing refreshed or failed: the pages read the ended grant from its date.
    assert mine.status == GoogleAccount.Status.ACTIVE
    assert mine.effective_status == GoogleAccount.Status.RECONNECT_REQUIRED
    for untouched in (other_client, other_person):
        untouched.refresh_from_db()
        assert untouched.refresh_token_expires_at == week
    ongoing.refresh_from_db()
    assert ongoing.refresh_token_expires_at is None


def test_end_now_without_the_demos_hook_leaves_the_site_alone(client, settings):
    settings.FAKE_GOOGLE = {**settings.FAKE_GOOGLE, "ON_END_NOW": ""}
    connected_tokens(client, identity="ada", access="7")
    week = timezone.now() + timedelta(days=7)
    account = make_account(
        sub=IDENTITIES["ada"].sub, client_id=demo.CLIENT_ID, refresh_token_expires_at=week
    )

    client.post(PERMISSIONS, {"grant": Grant.objects.get().pk, "action": "end"})

    account.refresh_from_db()
    assert account.refresh_token_expires_at == week


def test_end_now_refuses_ongoing_access(client):
    tokens = connected_tokens(client)

    response = client.post(PERMISSIONS, {"grant": Grant.objects.get().pk, "action": "end"})

    assert response.status_code == 404
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_each_grant_is_listed_under_its_own_clients_name(client, settings):
    # The demo's second client is registered on the other loopback name.
    settings.FAKE_GOOGLE = demo.fake_google_settings("http://127.0.0.1:8000")
    for client_id in (demo.CLIENT_ID, demo.SECOND_CLIENT_ID):
        Grant.objects.create(client_id=client_id, identity="ada", scopes="openid")

    content = client.get(PERMISSIONS).content.decode()

    assert content.count(f"<h2>{demo.CLIENT_NAME}</h2>") == 1
    assert content.count(f"<h2>{demo.SECOND_CLIENT_NAME}</h2>") == 1
