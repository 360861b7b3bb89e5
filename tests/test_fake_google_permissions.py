"""The stand-in's permissions page: the demo error page's guide, working offline."""

import pytest
from django.utils import timezone

from example_project.fake_google.models import Grant, Token
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
    assert 'class="grant"' not in content


def test_end_now_refuses_ongoing_access(client):
    tokens = connected_tokens(client)

    response = client.post(PERMISSIONS, {"grant": Grant.objects.get().pk, "action": "end"})

    assert response.status_code == 404
    assert refresh(client, tokens["refresh_token"]).status_code == 200
