"""The stand-in's consent page: what it shows, what it refuses, where it sends the browser."""

import pytest

from example_project import demo
from example_project.fake_google.models import AuthorizationCode, Grant
from tests.stand_in import (
    EMAIL_SCOPE,
    PROFILE_SCOPE,
    REDIRECT_URI,
    SCOPES,
    answer,
    authorization,
    redirect_params,
    stand_in_db,
)

pytestmark = [stand_in_db, pytest.mark.usefixtures("demo_mode")]

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"


def assert_refused(response, status, error):
    """Refused with Google's error page: no redirect to an unchecked redirect_uri."""
    assert response.status_code == status
    assert f'data-error="{error}"' in response.content.decode()
    assert not Grant.objects.exists()


def test_consent_page_names_the_client_and_ticks_every_requested_scope(client):
    response = client.get(authorization().url)

    content = response.content.decode()
    assert response.status_code == 200
    assert "google_connect example wants access to your Google Account" in content
    for scope in SCOPES:
        assert f'type="checkbox" name="scopes" value="{scope}"' in content
    # The scopes, the first account and ongoing access.
    assert content.count("checked") == len(SCOPES) + 2
    assert "Ada Lovelace &lt;ada.lovelace@example.com&gt;" in content
    assert "Grace Hopper &lt;grace.hopper@example.com&gt;" in content
    assert 'value="allow"' in content and 'value="cancel"' in content
    assert "Demo mode: Google is simulated locally" in content


def test_unknown_client_id_is_refused(client):
    assert_refused(client.get(authorization(client_id="someone-else").url), 401, "invalid_client")


@pytest.mark.parametrize(
    "redirect_uri",
    [REDIRECT_URI + "/", REDIRECT_URI.replace("http:", "https:"), "http://evil.example/connect"],
)
def test_redirect_uri_must_match_a_registered_one_exactly(client, redirect_uri):
    auth = authorization(redirect_uri=redirect_uri)

    assert_refused(client.get(auth.url), 400, "redirect_uri_mismatch")
    assert_refused(answer(client, auth), 400, "redirect_uri_mismatch")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
    ],
)
def test_malformed_authorization_request_is_refused(client, overrides, error):
    auth = authorization(**overrides)

    assert_refused(client.get(auth.url), 400, error)
    assert_refused(answer(client, auth), 400, error)


def test_parameter_given_twice_is_refused(client):
    auth = authorization()

    assert_refused(client.get(auth.url + "&client_id=other"), 400, "invalid_request")


def test_allow_redirects_with_a_code_the_state_and_the_granted_scopes(client):
    auth = authorization()

    params = redirect_params(answer(client, auth, identity="grace"))

    assert set(params) == {"code", "state", "scope", "iss"}
    assert params["state"] == "STATE-123"
    assert params["scope"] == " ".join(SCOPES)
    assert params["code"].startswith("4/demo-")
    grant = Grant.objects.get()
    assert (grant.identity, grant.scopes) == ("grace", " ".join(SCOPES))
    issued = AuthorizationCode.objects.get()
    assert (
        issued.redirect_uri == REDIRECT_URI
        and issued.code_challenge == auth.params["code_challenge"]
    )
    # Only a digest is stored.
    assert params["code"] not in issued.digest


def test_unticked_scope_is_left_out_of_the_grant(client):
    params = redirect_params(answer(client, authorization(), scopes=["openid", PROFILE_SCOPE]))

    assert params["scope"] == f"openid {PROFILE_SCOPE}"
    assert EMAIL_SCOPE not in Grant.objects.get().scopes


def test_cancel_redirects_with_access_denied_and_the_state(client):
    params = redirect_params(answer(client, authorization(), decision="cancel"))

    assert params == {"error": "access_denied", "state": "STATE-123", "iss": demo.ISSUER}
    assert not Grant.objects.exists()


def test_unknown_demo_account_is_refused_on_the_page(client):
    response = answer(client, authorization(), identity="mallory")

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Grant.objects.exists()


def test_scope_that_was_not_requested_cannot_be_granted(client):
    response = answer(client, authorization(), scopes=["https://mail.google.com/"])

    assert response.status_code == 400
    assert not Grant.objects.exists()


def test_answer_without_a_decision_is_refused(client):
    assert_refused(answer(client, authorization(), decision="maybe"), 400, "invalid_request")


def test_demo_avatars_are_served_locally(client):
    response = client.get("/fake-google/avatars/ada.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b">AL</text>" in response.content
    assert client.get("/fake-google/avatars/nobody.svg").status_code == 404


def test_every_redirect_back_names_the_issuer(client):
    allowed = redirect_params(answer(client, authorization()))
    cancelled = redirect_params(answer(client, authorization(), decision="cancel"))

    assert allowed["iss"] == cancelled["iss"] == demo.ISSUER == "https://accounts.google.com"


def test_the_demo_site_requires_the_issuer_the_stand_in_sends():
    site = demo.google_connect_settings("http://127.0.0.1:8000")

    assert site["REQUIRE_ISSUER"] is True
    assert site["ISSUER"] == demo.fake_google_settings("http://127.0.0.1:8000")["ISSUER"]


def test_a_consent_page_answered_again_after_its_scopes_were_granted_is_a_consent(client):
    # Back to the page of an incremental request, then Allow again: the scope
    # is no longer one the page would offer (it is granted), yet was requested.
    auth = authorization(
        scope=f"openid {CALENDAR_SCOPE}",
        include_granted_scopes="true",
        login_hint="ada.lovelace@example.com",
    )
    first = redirect_params(answer(client, auth, scopes=["openid", CALENDAR_SCOPE]))

    again = answer(client, auth, scopes=["openid", CALENDAR_SCOPE])

    params = redirect_params(again)
    assert params["code"] != first["code"]
    assert params["scope"] == f"openid {CALENDAR_SCOPE}"
    assert Grant.objects.get().scope_list == ["openid", CALENDAR_SCOPE]
