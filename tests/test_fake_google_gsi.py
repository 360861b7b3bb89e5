"""The stand-in's Google Identity Services popup and mobile server auth codes."""

import json
import re
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command

from example_project import demo
from example_project.fake_google.models import AuthorizationCode, Grant
from tests.stand_in import SCOPES, TOKEN, answer, authorization, oauth_error, stand_in_db

pytestmark = [stand_in_db, pytest.mark.usefixtures("demo_mode")]

ORIGIN = "http://testserver"


def popup_authorization(**overrides):
    params = {
        "redirect_uri": "postmessage",
        "origin": ORIGIN,
        "code_challenge": None,
        "code_challenge_method": None,
        **overrides,
    }
    return authorization(**params)


def relay_answer(response):
    """What the relay page posts to the opener, and to which origin."""
    assert response.status_code == 200
    content = response.content.decode()
    posted = re.search(r'id="fake-gsi-answer" type="application/json">(.*?)</script>', content)
    origin = re.search(r'id="fake-gsi-origin" type="application/json">(.*?)</script>', content)
    return json.loads(posted.group(1)), json.loads(origin.group(1))


def exchange_popup_code(client, code, **overrides):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": demo.CLIENT_ID,
        "client_secret": demo.CLIENT_SECRET,
        "redirect_uri": "postmessage",
        **overrides,
    }
    return client.post(TOKEN, {k: v for k, v in data.items() if v is not None})


def test_the_script_offers_init_code_client_in_popup_mode(client):
    response = client.get("/fake-google/gsi/client")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript"
    content = response.content.decode()
    assert "window.google.accounts.oauth2 = {initCodeClient: initCodeClient}" in content
    assert 'redirect_uri: "postmessage"' in content
    assert 'var CONSENT_URL = "http://testserver/fake-google/o/oauth2/v2/auth";' in content


def test_allow_in_the_popup_goes_to_the_relay_which_posts_the_code_to_the_origin(client):
    response = client.get(answer(client, popup_authorization())["Location"])

    posted, origin = relay_answer(response)
    assert origin == ORIGIN
    assert set(posted) == {"code", "scope", "state"}
    assert posted["state"] == "STATE-123"
    assert posted["scope"] == " ".join(SCOPES)
    assert AuthorizationCode.objects.get().code_challenge == ""


def test_cancel_in_the_popup_posts_access_denied(client):
    response = client.get(answer(client, popup_authorization(), decision="cancel")["Location"])

    assert relay_answer(response)[0] == {"error": "access_denied", "state": "STATE-123"}


def test_a_popup_for_an_origin_the_client_does_not_authorize_is_refused(client):
    response = client.get(popup_authorization(origin="http://evil.example").url)

    assert response.status_code == 400
    assert 'data-error="origin_mismatch"' in response.content.decode()


def test_the_relay_posts_nothing_to_an_unauthorized_origin(client):
    response = client.get("/fake-google/gsi/relay?code=4/x&state=s&origin=http://evil.example")

    assert relay_answer(response) == ({"error": "origin_mismatch"}, "")


def test_a_popup_code_is_exchanged_with_postmessage_and_no_verifier(client):
    redirect = answer(client, popup_authorization())
    code = parse_qs(urlsplit(redirect["Location"]).query)["code"][0]

    response = exchange_popup_code(client, code)

    assert response.status_code == 200
    assert set(response.json()) >= {"access_token", "refresh_token"}


def test_a_popup_code_with_a_verifier_is_refused(client):
    redirect = answer(client, popup_authorization())
    code = parse_qs(urlsplit(redirect["Location"]).query)["code"][0]

    response = exchange_popup_code(client, code, code_verifier="x" * 43)

    assert oauth_error(response) == (400, "invalid_grant")


def mint(email="ada.lovelace@example.com", *args):
    out = StringIO()
    call_command("demo_server_auth_code", email, *args, stdout=out)
    return out.getvalue().strip()


def test_demo_server_auth_code_prints_a_code_for_the_identity():
    code = mint()

    assert code.startswith("4/demo-")
    grant = Grant.objects.get()
    assert (grant.client_id, grant.identity, grant.scope_list) == (
        demo.CLIENT_ID,
        "ada",
        list(SCOPES),
    )


def test_a_mobile_code_is_exchanged_with_an_empty_redirect_uri(client):
    response = exchange_popup_code(client, mint(), redirect_uri="")

    assert response.status_code == 200


def test_a_mobile_code_without_a_redirect_uri_is_refused(client):
    response = exchange_popup_code(client, mint(), redirect_uri=None)

    assert oauth_error(response) == (400, "redirect_uri_mismatch")


def test_demo_server_auth_code_refuses_an_unknown_email():
    with pytest.raises(CommandError, match="No demo identity has that email"):
        mint("nobody@example.com")
