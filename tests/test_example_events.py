"""The example's "Your next events": a scope set asked for in context, over real HTTP."""

from urllib.parse import parse_qs, urlsplit

import pytest

from example_project import demo
from google_connect.google.transport import shared_session
from google_connect.models import GoogleAccount
from tests import stand_in
from tests.stand_in import SCOPES, stand_in_db, stand_in_db_over_http

CALENDAR = demo.SCOPE_SETS["calendar"][0]


@pytest.fixture
def demo_over_http(example_site, live_server):
    example_site.GOOGLE_CONNECT = demo.google_connect_settings(live_server.url)
    # The test client's own requests are for http://testserver.
    example_site.FAKE_GOOGLE = demo.fake_google_settings("http://testserver")
    yield live_server.url
    shared_session().close()


def follow_to_consent(client, url):
    """From a gated page to the stand-in's consent page; returns its URL and query."""
    authorize = client.get(url)["Location"]
    assert authorize.startswith("/google/accounts/authorize?")
    consent = client.get(authorize)["Location"]
    return consent, {k: v[0] for k, v in parse_qs(urlsplit(consent).query).items()}


def answer(client, consent, scopes):
    back = client.post(consent, {"identity": "ada", "scopes": scopes, "decision": "allow"})
    return client.get(back["Location"])


@stand_in_db_over_http
def test_events_ask_for_calendar_only_then_degrade_or_show_the_events(demo_over_http, alice):
    answer(alice, alice.get("/google/accounts/authorize")["Location"], list(SCOPES))
    account = GoogleAccount.objects.get()

    consent, query = follow_to_consent(alice, "/events/")
    page = alice.get(consent).content.decode()

    assert query["login_hint"] == "ada.lovelace@example.com"
    assert query["scope"].endswith(CALENDAR)
    # Consent for Calendar only: the rest is granted already.
    assert f'name="scopes" value="{CALENDAR}"' in page
    assert page.count('name="scopes"') == 1

    unticked = answer(alice, consent, [])

    assert unticked.status_code == 302
    assert unticked["Location"] == "/events/?google_connect=partial&missing=calendar"
    graceful = alice.get(unticked["Location"]).content.decode()
    assert "Calendar access was not granted" in graceful
    assert "Google did not grant access for: Calendar." in graceful
    account.refresh_from_db()
    assert not account.has_scope_set("calendar")

    consent, _ = follow_to_consent(alice, "/events/")
    granted = answer(alice, consent, [CALENDAR])

    assert granted["Location"] == "/events/"
    events = alice.get("/events/").content.decode()
    assert "Analytical Engine review" in events
    assert "Tea with Charles Babbage" in events
    account.refresh_from_db()
    assert account.has_scope_set("calendar")
    assert set(account.granted_scopes) == {*SCOPES, CALENDAR}


@stand_in_db
@pytest.mark.urls("example_project.urls")
@pytest.mark.parametrize(("scopes", "status"), [(list(SCOPES), 403), ([*SCOPES, CALENDAR], 200)])
def test_the_stand_ins_calendar_needs_a_calendar_scope(demo_mode, client, scopes, status):
    auth = stand_in.authorization(scope=" ".join([*SCOPES, CALENDAR]))
    code = stand_in.redirect_params(stand_in.answer(client, auth, scopes=scopes))["code"]
    token = stand_in.exchange(client, code, auth).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    for path in ("users/me/calendarList", "calendars/primary/events"):
        response = client.get(f"/fake-google/calendar/v3/{path}", headers=headers)
        assert response.status_code == status
    assert client.get("/fake-google/calendar/v3/users/me/calendarList").status_code == 401
