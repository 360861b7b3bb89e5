"""The stand-in's token, userinfo and revoke endpoints, as google_connect calls them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from example_project import demo
from example_project.fake_google.models import AuthorizationCode, Grant, Token
from google_connect.google.answers import parse_token_response, parse_userinfo
from tests.stand_in import (
    EMAIL_SCOPE,
    PROFILE_SCOPE,
    REVOKE,
    SCOPES,
    TOKEN,
    allow,
    connected_tokens,
    exchange,
    oauth_error,
    refresh,
    stand_in_db,
    userinfo,
)

pytestmark = [stand_in_db, pytest.mark.usefixtures("demo_mode")]


def test_code_exchange_answers_like_google(client):
    code, auth = allow(client)

    response = exchange(client, code, auth)

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert body["access_token"].startswith("ya29.demo-")
    assert body["refresh_token"].startswith("1//demo-")
    assert (body["expires_in"], body["token_type"]) == (3599, "Bearer")
    assert body["scope"] == " ".join(SCOPES)
    assert response["Cache-Control"] == "no-store"
    # google_connect's own parser takes it as it is.
    assert parse_token_response(body).scopes == SCOPES


def test_code_works_once(client):
    code, auth = allow(client)
    assert exchange(client, code, auth).status_code == 200

    assert oauth_error(exchange(client, code, auth)) == (400, "invalid_grant")


def test_wrong_code_verifier_is_invalid_grant_and_spends_the_code(client):
    code, auth = allow(client)

    assert oauth_error(exchange(client, code, auth, code_verifier="x" * 64)) == (
        400,
        "invalid_grant",
    )
    assert oauth_error(exchange(client, code, auth)) == (400, "invalid_grant")


def test_missing_code_verifier_is_invalid_grant(client):
    code, auth = allow(client)

    response = exchange(client, code, auth, code_verifier=None)

    assert oauth_error(response) == (400, "invalid_grant")
    assert response.json()["error_description"] == "Missing code verifier."


def test_unknown_code_is_invalid_grant(client):
    _, auth = allow(client)

    assert oauth_error(exchange(client, "4/demo-made-up", auth)) == (400, "invalid_grant")


def test_expired_code_is_invalid_grant(client):
    code, auth = allow(client)
    AuthorizationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert oauth_error(exchange(client, code, auth)) == (400, "invalid_grant")


def test_redirect_uri_must_be_the_one_of_the_authorization_request(client):
    code, auth = allow(client)

    response = exchange(client, code, auth, redirect_uri="http://testserver/elsewhere")

    assert oauth_error(response) == (400, "redirect_uri_mismatch")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_id": "someone-else"}, (401, "invalid_client")),
        ({"client_id": None}, (401, "invalid_client")),
        ({"client_secret": "wrong"}, (401, "invalid_client")),
        ({"client_secret": None}, (401, "invalid_client")),
        ({"grant_type": "password"}, (400, "unsupported_grant_type")),
        ({"grant_type": None}, (400, "invalid_request")),
    ],
)
def test_bad_token_request_is_refused_in_googles_shape(client, overrides, expected):
    code, auth = allow(client)

    assert oauth_error(exchange(client, code, auth, **overrides)) == expected
    assert not Token.objects.exists()


def test_token_request_without_a_code_is_invalid_request(client):
    _, auth = allow(client)

    assert oauth_error(exchange(client, None, auth)) == (400, "invalid_request")
    assert not Token.objects.exists()


def test_refresh_grant_issues_a_new_access_token_only(client):
    tokens = connected_tokens(client)

    response = refresh(client, tokens["refresh_token"])

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["access_token"] != tokens["access_token"]
    assert userinfo(client, body["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"refresh_token": "1//demo-made-up"}, (400, "invalid_grant")),
        ({"refresh_token": ""}, (400, "invalid_request")),
        ({"client_secret": "wrong"}, (401, "invalid_client")),
    ],
)
def test_bad_refresh_is_refused(client, overrides, expected):
    tokens = connected_tokens(client)

    assert (
        oauth_error(refresh(client, **{"refresh_token": tokens["refresh_token"], **overrides}))
        == expected
    )


def test_access_token_is_no_refresh_token(client):
    tokens = connected_tokens(client)

    assert oauth_error(refresh(client, tokens["access_token"])) == (400, "invalid_grant")


def test_userinfo_answers_the_chosen_account_v3_style(client):
    tokens = connected_tokens(client, identity="grace")

    response = userinfo(client, tokens["access_token"])

    body = response.json()
    assert response.status_code == 200
    assert body == {
        "sub": "100000000000000000003",
        "name": "Grace Hopper",
        "given_name": "Grace",
        "family_name": "Hopper",
        "picture": "http://testserver/fake-google/avatars/grace.svg",
        "email": "grace.hopper@example.com",
        "email_verified": True,
        "locale": "en-US",
    }
    assert parse_userinfo(body).email == "grace.hopper@example.com"


def test_userinfo_leaves_out_the_claims_of_unticked_scopes(client):
    tokens = connected_tokens(client, scopes=["openid", PROFILE_SCOPE])

    body = userinfo(client, tokens["access_token"]).json()

    assert "email" not in body and "email_verified" not in body
    assert body["name"] == "Ada Lovelace"


@pytest.mark.parametrize(
    "authorization", ["Bearer ya29.demo-made-up", "", "Bearer ", "Basic dXNlcjpwdw=="]
)
def test_userinfo_refuses_anything_but_a_live_access_token(client, authorization):
    connected_tokens(client)

    response = client.get(
        "/fake-google/oauth2/v3/userinfo", headers={"Authorization": authorization}
    )

    assert oauth_error(response) == (401, "invalid_request")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_refuses_an_expired_access_token(client):
    tokens = connected_tokens(client)
    Token.objects.filter(kind=Token.Kind.ACCESS).update(expires_at=timezone.now())

    assert userinfo(client, tokens["access_token"]).status_code == 401


@pytest.mark.parametrize("revoked", ["access_token", "refresh_token"])
def test_revoking_any_token_revokes_the_whole_grant(client, revoked):
    tokens = connected_tokens(client)

    response = client.post(REVOKE, {"token": tokens[revoked]})

    assert (response.status_code, response.json()) == (200, {})
    assert oauth_error(refresh(client, tokens["refresh_token"])) == (400, "invalid_grant")
    assert userinfo(client, tokens["access_token"]).status_code == 401


def test_revoking_twice_or_an_unknown_token_is_invalid_token(client):
    tokens = connected_tokens(client)
    client.post(REVOKE, {"token": tokens["refresh_token"]})

    assert oauth_error(client.post(REVOKE, {"token": tokens["refresh_token"]})) == (
        400,
        "invalid_token",
    )
    assert oauth_error(client.post(REVOKE, {"token": "ya29.made-up"})) == (400, "invalid_token")
    assert oauth_error(client.post(REVOKE, {})) == (400, "invalid_request")


def test_another_accounts_grant_survives_a_revocation(client):
    # Issue 29: two consents of one account are one grant (see the tests
    # below); another account's grant is another grant.
    first = connected_tokens(client, identity="ada")
    second = connected_tokens(client, identity="grace")

    client.post(REVOKE, {"token": first["access_token"]})

    assert refresh(client, second["refresh_token"]).status_code == 200


def test_consenting_again_adds_to_the_one_grant_of_the_account_and_client(client):
    connected_tokens(client, scopes=["openid", EMAIL_SCOPE])
    connected_tokens(client, scopes=["openid", PROFILE_SCOPE])

    grant = Grant.objects.get()
    assert grant.scope_list == ["openid", EMAIL_SCOPE, PROFILE_SCOPE]


def test_consenting_again_issues_a_new_refresh_token_beside_the_old_one(client):
    first = connected_tokens(client)
    second = connected_tokens(client)

    assert first["refresh_token"] != second["refresh_token"]
    assert refresh(client, first["refresh_token"]).status_code == 200
    assert refresh(client, second["refresh_token"]).status_code == 200


def test_a_token_covers_what_its_consent_granted_not_the_whole_grant(client):
    connected_tokens(client)
    narrower = connected_tokens(client, scopes=["openid", PROFILE_SCOPE])

    assert narrower["scope"] == f"openid {PROFILE_SCOPE}"
    refreshed = refresh(client, narrower["refresh_token"]).json()
    assert refreshed["scope"] == f"openid {PROFILE_SCOPE}"


def test_revoking_any_token_ends_every_token_of_the_grant(client):
    first = connected_tokens(client)
    second = connected_tokens(client)

    assert client.post(REVOKE, {"token": second["access_token"]}).status_code == 200

    assert oauth_error(refresh(client, first["refresh_token"])) == (400, "invalid_grant")
    assert oauth_error(refresh(client, second["refresh_token"])) == (400, "invalid_grant")
    assert not Grant.objects.live().exists()


def test_a_consent_after_a_revocation_starts_a_new_grant(client):
    first = connected_tokens(client)
    client.post(REVOKE, {"token": first["refresh_token"]})

    connected_tokens(client)

    assert Grant.objects.count() == 2
    assert Grant.objects.live().count() == 1


def test_beyond_the_limit_the_oldest_refresh_token_stops_working(client, monkeypatch):
    monkeypatch.setattr("example_project.fake_google.models.REFRESH_TOKEN_LIMIT", 2)
    oldest = connected_tokens(client)
    middle = connected_tokens(client)
    newest = connected_tokens(client)

    assert oauth_error(refresh(client, oldest["refresh_token"])) == (400, "invalid_grant")
    assert refresh(client, middle["refresh_token"]).status_code == 200
    assert refresh(client, newest["refresh_token"]).status_code == 200


def test_token_endpoints_refuse_get(client):
    assert client.get(TOKEN).status_code == 405
    assert client.get(REVOKE).status_code == 405


def test_client_secret_is_checked_against_the_registered_one(client, settings):
    settings.FAKE_GOOGLE = {**settings.FAKE_GOOGLE, "CLIENT_SECRET": "rotated"}
    code, auth = allow(client)

    assert oauth_error(exchange(client, code, auth, client_secret=demo.CLIENT_SECRET)) == (
        401,
        "invalid_client",
    )
