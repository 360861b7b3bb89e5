import base64
import hashlib

import pytest

from google_connect.web.flow import SESSION_KEY
from tests.support import start_flow

pytestmark = pytest.mark.django_db


def test_redirects_to_google_with_the_documented_parameters(alice, settings):
    response = alice.get("/google/accounts/authorize")

    assert response.status_code == 302
    assert response["Location"].startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    params = start_flow(alice)
    assert params["response_type"] == "code"
    assert params["client_id"] == settings.GOOGLE_CONNECT["CLIENT_ID"]
    assert params["redirect_uri"] == "http://testserver/google/accounts/connect"
    assert params["scope"] == (
        "openid https://www.googleapis.com/auth/userinfo.email "
        "https://www.googleapis.com/auth/userinfo.profile"
    )
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["include_granted_scopes"] == "true"
    assert params["code_challenge_method"] == "S256"
    assert "client_secret" not in params


def test_state_is_random_and_at_least_128_bits(alice):
    states = {start_flow(alice)["state"] for _ in range(3)}

    assert len(states) == 3
    for state in states:
        assert len(base64.urlsafe_b64decode(state + "==")) >= 16


def test_code_challenge_is_s256_of_the_verifier_kept_in_the_session(alice):
    params = start_flow(alice)

    [stored] = alice.session[SESSION_KEY]
    digest = hashlib.sha256(stored["code_verifier"].encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert params["code_challenge"] == expected
    assert stored["state"] == params["state"]
    assert 43 <= len(stored["code_verifier"]) <= 128


def test_configured_redirect_uri_is_used(alice, settings):
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "REDIRECT_URI": "https://example.com/google/accounts/connect",
    }

    assert start_flow(alice)["redirect_uri"] == "https://example.com/google/accounts/connect"


def test_configured_scopes_are_requested(alice, settings):
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "SCOPES": ["openid", "email", "https://www.googleapis.com/auth/calendar.readonly"],
    }

    assert start_flow(alice)["scope"] == (
        "openid email https://www.googleapis.com/auth/calendar.readonly"
    )


def test_safe_next_is_kept_with_the_state(alice):
    start_flow(alice, next_url="/settings/?tab=google")

    assert alice.session[SESSION_KEY][0]["next_url"] == "/settings/?tab=google"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "http:///evil.example"],
)
def test_offsite_next_is_ignored(alice, next_url):
    start_flow(alice, next_url=next_url)

    assert alice.session[SESSION_KEY][0]["next_url"] is None


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/google/accounts/authorize?next=/settings/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/google/accounts/authorize")
    assert SESSION_KEY not in client.session


def test_pending_flows_per_session_are_bounded(alice):
    states = [start_flow(alice)["state"] for _ in range(8)]

    kept = [entry["state"] for entry in alice.session[SESSION_KEY]]
    assert kept == states[-5:]


def test_post_is_not_allowed(alice):
    assert alice.post("/google/accounts/authorize").status_code == 405
