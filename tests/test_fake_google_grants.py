"""The stand-in's time-limited grants and its session-control answer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from example_project.fake_google.models import Grant
from google_connect.google.answers import parse_token_response
from tests.stand_in import (
    authorization,
    connected_tokens,
    oauth_error,
    refresh,
    stand_in_db,
    stand_in_db_over_http,
    userinfo,
)

pytestmark = [stand_in_db, pytest.mark.usefixtures("demo_mode")]

DAY = 24 * 3600


def test_consent_page_offers_ongoing_or_limited_access(client):
    content = client.get(authorization().url).content.decode()

    assert 'type="radio" name="access" value="0"' in content
    assert "Ongoing access, until you remove it" in content
    assert "Access for 7 days" in content and "Access for 30 days" in content


def test_ongoing_access_carries_no_lifetime(client):
    body = connected_tokens(client, access="0")

    assert "refresh_token_expires_in" not in body
    assert Grant.objects.get().expires_at is None


@pytest.mark.parametrize("days", [7, 30])
def test_limited_access_carries_refresh_token_expires_in(client, days):
    body = connected_tokens(client, access=str(days))

    assert days * DAY - 5 <= body["refresh_token_expires_in"] <= days * DAY
    parsed = parse_token_response(body)
    assert parsed.refresh_token_expires_in == body["refresh_token_expires_in"]
    again = refresh(client, body["refresh_token"]).json()
    assert again["refresh_token_expires_in"] <= body["refresh_token_expires_in"]


def test_a_limited_grant_answers_invalid_grant_once_it_has_passed(client):
    body = connected_tokens(client, access="7")
    Grant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert oauth_error(refresh(client, body["refresh_token"])) == (400, "invalid_grant")
    assert userinfo(client, body["access_token"]).status_code == 401


def test_session_control_answers_invalid_rapt(client):
    body = connected_tokens(client)
    Grant.objects.update(reauth_required=True)

    response = refresh(client, body["refresh_token"])

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "reauth related error (invalid_rapt)",
        "error_subtype": "invalid_rapt",
    }


# -- the demo home page ----------------------------------------------------------------


def test_home_page_shows_access_until_for_a_limited_grant(alice, user):
    from tests.factories import make_account

    ends = timezone.now() + timedelta(days=7)
    make_account(user, refresh_token_expires_at=ends)
    make_account(user, email="ongoing@example.com")

    content = alice.get("/").content.decode()

    assert content.count("access until") == 1
    # The date as every page shows it (google_connect/includes/date.html).
    assert f'access until <time datetime="{ends.isoformat()}">{ends:%-d %B %Y}</time>' in content
    assert "Reconnect</a>" not in content


def test_home_page_shows_the_reason_and_a_reconnect_button(alice, user):
    from tests.factories import make_account

    account = make_account(
        user,
        status="reconnect_required",
        reconnect_reason="reauth_required",
        refresh_token_expires_at=timezone.now() + timedelta(days=3),
    )

    content = alice.get("/").content.decode()

    assert "Google asks the user to sign in again" in content
    assert (
        f'href="/google/accounts/authorize?account={account.pk}&amp;next=/">Reconnect</a>'
        in content
    )
    assert "access until" not in content


# -- google_connect against the stand-in, over real HTTP -----------------------------


@pytest.fixture
def connected_over_http(example_site, live_server, alice):
    """Connect through the stand-in, choosing 7 days of access on its consent page."""
    from example_project import demo
    from google_connect.google.transport import shared_session
    from google_connect.models import GoogleAccount
    from tests.stand_in import SCOPES

    example_site.GOOGLE_CONNECT = demo.google_connect_settings(live_server.url)
    example_site.FAKE_GOOGLE = demo.fake_google_settings("http://testserver")
    consent = alice.get("/google/accounts/authorize")["Location"]
    allowed = alice.post(
        consent, {"identity": "ada", "scopes": SCOPES, "access": "7", "decision": "allow"}
    )
    assert alice.get(allowed["Location"]).status_code == 200
    yield GoogleAccount.objects.get()
    shared_session().close()


@stand_in_db_over_http
def test_a_limited_grant_from_the_stand_in_ends_in_refresh_token_expired(connected_over_http):
    from google_connect.exceptions import ReconnectRequired

    account = connected_over_http
    ends = account.refresh_token_expires_at
    assert ends is not None
    assert timedelta(days=7) - timedelta(minutes=1) < ends - timezone.now() <= timedelta(days=7)
    # The stand-in's grant ran out a moment before ours says.
    Grant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    account.refresh_token_expires_at = timezone.now() + timedelta(minutes=1)
    account.save()

    with pytest.raises(ReconnectRequired):
        account.refresh_access_token()

    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == (
        "reconnect_required",
        "refresh_token_expired",
    )


@stand_in_db_over_http
def test_session_control_at_the_stand_in_ends_in_reauth_required(connected_over_http):
    from google_connect.exceptions import ReconnectRequired

    account = connected_over_http
    Grant.objects.update(reauth_required=True)

    with pytest.raises(ReconnectRequired):
        account.refresh_access_token()

    account.refresh_from_db()
    assert account.reconnect_reason == "reauth_required"
