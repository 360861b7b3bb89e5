"""The stand-in's Cross-Account Protection: its discovery document and keys, and
**Remove access** telling the demo site at once through a signed security event."""

import jwt
import pytest
from django.urls import reverse

from example_project import demo
from example_project.fake_google import risc
from example_project.fake_google.identities import IDENTITIES
from example_project.fake_google.models import Grant
from google_connect.google.risc_keys import KEYS
from google_connect.google.transport import shared_session
from google_connect.models import GoogleAccount, GoogleSecurityEvent
from tests.factories import make_account
from tests.stand_in import stand_in_db, stand_in_db_over_http

REVOKED_TEXT = "Reconnect required: access was removed in your Google account"


@pytest.fixture
def fresh_keys():
    KEYS.clear()
    yield
    KEYS.clear()
    shared_session().close()


@pytest.mark.urls("example_project.urls")
def test_demo_settings_point_at_the_stand_ins_risc_documents():
    config = demo.google_connect_settings("http://site.test")
    stand_in = demo.fake_google_settings("http://site.test")

    assert config["RISC_CONFIG_URL"] == "http://site.test" + reverse(
        "fake_google:risc_configuration"
    )
    assert stand_in["RISC_ISSUER"] == "http://site.test/fake-google/"
    assert stand_in["RISC_RECEIVER_URL"] == "http://site.test" + reverse("google_connect:risc")


@stand_in_db
def test_discovery_document_and_key_set(demo_mode, client):
    discovery = client.get("/fake-google/.well-known/risc-configuration")
    keys = client.get("/fake-google/oauth2/v3/certs")

    assert discovery.json()["issuer"] == "http://testserver/fake-google/"
    assert discovery.json()["jwks_uri"] == "http://testserver/fake-google/oauth2/v3/certs"
    assert "max-age=300" in keys["Cache-Control"]
    [jwk] = keys.json()["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in jwk  # the public half only
    # What the stand-in signs verifies with what it publishes.
    grant = Grant.objects.create(client_id=demo.CLIENT_ID, identity="ada", scopes="openid")
    token = risc.tokens_revoked_token(grant)
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    public = jwt.PyJWK(jwk).key
    payload = jwt.decode(token, public, algorithms=["RS256"], audience=demo.CLIENT_ID)
    assert payload["events"][risc.TOKENS_REVOKED]["subject"]["sub"] == IDENTITIES["ada"].sub


@stand_in_db
def test_the_permissions_page_lists_live_grants(demo_mode, client):
    live = Grant.objects.create(client_id=demo.CLIENT_ID, identity="ada", scopes="openid")
    gone = Grant.objects.create(client_id=demo.CLIENT_ID, identity="alan", scopes="openid")
    gone.revoke()

    page = client.get("/fake-google/permissions").content.decode()

    assert "ada.lovelace@example.com" in page
    assert "alan.turing@example.com" not in page
    assert f'name="grant" value="{live.pk}"' in page
    assert "Remove access" in page


@stand_in_db_over_http
@pytest.mark.usefixtures("fresh_keys")
def test_remove_access_pushes_a_signed_event_the_site_acts_on(
    example_site, live_server, alice, user
):
    # The site and the stand-in talk over real HTTP on the live server; the
    # test client's own requests are for http://testserver.
    example_site.GOOGLE_CONNECT = demo.google_connect_settings(live_server.url)
    example_site.FAKE_GOOGLE = demo.fake_google_settings(live_server.url)
    grant = Grant.objects.create(client_id=demo.CLIENT_ID, identity="ada", scopes="openid")
    account = make_account(user, sub=IDENTITIES["ada"].sub, email="ada.lovelace@example.com")

    response = alice.post("/fake-google/permissions", {"grant": grant.pk})

    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "revoked")
    assert GoogleSecurityEvent.objects.get().accounts_affected == 1
    assert REVOKED_TEXT in alice.get("/").content.decode()


@stand_in_db
def test_without_a_receiver_nothing_is_pushed(demo_mode, alice, user):
    demo_mode.FAKE_GOOGLE = {**demo_mode.FAKE_GOOGLE, "RISC_RECEIVER_URL": ""}
    grant = Grant.objects.create(client_id=demo.CLIENT_ID, identity="ada", scopes="openid")
    account = make_account(user, sub=IDENTITIES["ada"].sub)

    alice.post("/fake-google/permissions", {"grant": grant.pk})

    account.refresh_from_db()
    assert account.status == GoogleAccount.Status.ACTIVE
    assert "Active" in alice.get("/").content.decode()
