"""The demo's Disconnect and admin actions, calling the stand-in over real HTTP.

As under ``make demo``: the site's database and the stand-in's are SQLite
files (tests/settings.py), and the stand-in answers on the live server's
threads, each with connections of its own, while the site's request holds
the account's row lock. On one shared file the stand-in's write waited for
the site's transaction, which waited for the stand-in: "Google could not be
reached" after about 5 s, every time.
"""

import pytest
from django.db import connections

from example_project import demo
from example_project.fake_google.models import Grant, Token
from google_connect.google.transport import shared_session
from google_connect.models import GoogleAccount
from tests.stand_in import SCOPES, stand_in_db_over_http
from tests.support import example_google_connect

pytestmark = stand_in_db_over_http

CHANGELIST = "/admin/google_connect/googleaccount/"


@pytest.fixture
def demo_over_http(example_site, live_server):
    example_site.GOOGLE_CONNECT = example_google_connect(
        demo.google_connect_settings(live_server.url)
    )
    # The test client's own requests are for http://testserver.
    example_site.FAKE_GOOGLE = demo.fake_google_settings("http://testserver")
    yield live_server
    # google_connect keeps a pooled session per thread. A connection left open
    # to the live server would outlive it and fail noisily at interpreter exit.
    shared_session().close()


def connect_over_http(client, identity="alan"):
    consent = client.get("/google/accounts/authorize")["Location"]
    allowed = client.post(consent, {"identity": identity, "scopes": SCOPES, "decision": "allow"})
    return client.get(allowed["Location"])


def act(client, action, account):
    response = client.post(
        CHANGELIST, {"action": action, "_selected_action": [account.pk]}, follow=True
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_the_site_and_the_stand_in_have_databases_of_their_own():
    site, stand_in = connections["default"], connections["fake_google"]

    assert stand_in.vendor == "sqlite" and stand_in.settings_dict["NAME"] != ":memory:"
    if site.vendor == "sqlite":
        # Files, as under make demo: an in-memory database hid the lock wait.
        assert not site.is_in_memory_db()
        assert site.settings_dict["NAME"] != stand_in.settings_dict["NAME"]


def test_demo_flow_connects_an_account_over_real_http(demo_over_http, alice, user):
    """The flow without a browser: the connect view calls the stand-in over real HTTP."""
    consent = alice.get("/google/accounts/authorize")["Location"]
    assert consent.startswith(demo_over_http.url + "/fake-google/o/oauth2/v2/auth?")

    response = connect_over_http(alice)

    assert response.status_code == 200
    account = GoogleAccount.objects.get()
    assert (account.user, account.email, account.name) == (
        user,
        "alan.turing@example.com",
        "Alan Turing",
    )
    assert account.granted_scopes == list(SCOPES)
    # Built by the stand-in from the request that reached it over HTTP.
    assert account.picture == demo_over_http.url + "/fake-google/avatars/alan.svg"


def test_disconnect_revokes_the_grant_at_the_stand_in(demo_over_http, alice):
    connect_over_http(alice)
    account = GoogleAccount.objects.get()

    response = alice.post(f"/google/accounts/{account.pk}/disconnect", {"next": "/"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "You disconnected alan.turing@example.com; no Google account is connected now."
    ]
    assert not GoogleAccount.objects.exists()
    assert Grant.objects.get().revoked_at is not None


def test_admin_revoke_and_remove_revokes_at_the_stand_in(demo_over_http, alice, admin_client):
    connect_over_http(alice)
    account = GoogleAccount.objects.get()

    messages = act(admin_client, "revoke_and_remove", account)

    assert messages == ["Revoked and removed alan.turing@example.com."]
    assert not GoogleAccount.objects.exists()
    assert Grant.objects.get().revoked_at is not None


def test_admin_refresh_gets_a_new_access_token_from_the_stand_in(
    demo_over_http, alice, admin_client
):
    connect_over_http(alice)
    account = GoogleAccount.objects.get()

    messages = act(admin_client, "refresh_access_token", account)

    assert messages == ["Access token refreshed for alan.turing@example.com."]
    account.refresh_from_db()
    assert Token.objects.filter(kind=Token.Kind.ACCESS).count() == 2
    assert Token.objects.live(account.access_token, Token.Kind.ACCESS) is not None
