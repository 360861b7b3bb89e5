"""The receiver's answers: every validation rule, each with a token signed by a test key."""

import json
import time

import jwt
import pytest

from google_connect.models import GoogleAccount, GoogleSecurityEvent
from google_connect.risc import token as security_event_token
from tests.factories import make_account
from tests.risc_support import (
    KID,
    TOKENS_REVOKED,
    claims,
    public_pem,
    rsa_key,
    sign,
)

pytestmark = pytest.mark.django_db


def assert_refused(response, err):
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"err", "description"}
    assert body["err"] == err
    assert not GoogleSecurityEvent.objects.exists()


def test_a_valid_token_is_accepted(client, risc):
    response = risc.post(client, sign(claims()))

    assert response.status_code == 202
    assert GoogleSecurityEvent.objects.get().event_type == TOKENS_REVOKED


def test_the_url_is_risc_events_under_the_include():
    from django.urls import reverse

    assert reverse("google_connect:risc") == "/google/risc/events"


def test_no_csrf_token_and_no_login_needed(risc):
    from django.test import Client

    response = risc.post(Client(enforce_csrf_checks=True), sign(claims()))

    assert response.status_code == 202


@pytest.mark.parametrize("content_type", ["application/jwt", "text/plain", "application/json"])
def test_any_content_type_is_accepted(client, risc, content_type):
    response = risc.post(client, sign(claims()), content_type=content_type)

    assert response.status_code == 202


def test_get_is_not_allowed(client, risc):
    assert client.get("/google/risc/events").status_code == 405


def test_empty_body(client, risc):
    assert_refused(risc.post(client, b""), "invalid_request")


def test_huge_body(client, risc):
    assert_refused(risc.post(client, b"a" * (1024 * 1024)), "invalid_request")


def test_not_a_jwt(client, risc):
    assert_refused(risc.post(client, b"hello"), "invalid_request")


def test_alg_none_is_refused(client, risc):
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": KID})

    assert_refused(risc.post(client, token.encode()), "invalid_key")


def test_hs256_with_the_public_key_as_secret_is_refused(client, risc):
    # The classic confusion: a verifier that takes "the key" for whatever
    # algorithm the header names would check this HMAC with the public key.
    pem = public_pem(rsa_key())
    header = {"alg": "HS256", "kid": KID, "typ": "JWT"}
    segments = [
        jwt.utils.base64url_encode(json.dumps(header).encode()),
        jwt.utils.base64url_encode(json.dumps(claims()).encode()),
    ]
    signing_input = b".".join(segments)
    import hashlib
    import hmac

    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    token = signing_input + b"." + jwt.utils.base64url_encode(signature)

    assert_refused(risc.post(client, token), "invalid_key")


@pytest.mark.parametrize("alg", ["HS256", "RS512", "PS256", "ES256"])
def test_other_algorithms_are_refused(client, risc, alg):
    from cryptography.hazmat.primitives.asymmetric import ec

    key = {"HS256": "secret" * 8, "ES256": ec.generate_private_key(ec.SECP256R1())}.get(
        alg, rsa_key()
    )
    token = jwt.encode(claims(), key, algorithm=alg, headers={"kid": KID})

    assert_refused(risc.post(client, token.encode()), "invalid_key")


def test_missing_kid(client, risc):
    assert_refused(risc.post(client, sign(claims(), kid=None)), "invalid_key")


def test_unknown_kid(client, risc):
    assert_refused(risc.post(client, sign(claims(), kid="someone-else")), "invalid_key")


def test_signature_by_another_key(client, risc):
    assert_refused(risc.post(client, sign(claims(), key=rsa_key("attacker"))), "invalid_key")


def test_tampered_payload(client, risc):
    header, _, signature = sign(claims()).split(b".")
    forged = jwt.utils.base64url_encode(json.dumps(claims(jti="forged")).encode())

    assert_refused(risc.post(client, b".".join([header, forged, signature])), "invalid_key")


@pytest.mark.parametrize(
    "issuer",
    [
        "https://accounts.google.com",  # the trailing slash matters
        "https://accounts.google.com/evil",
        "https://accounts.google.co",  # a part of Google's
        "accounts.google.com",
    ],
)
def test_issuer_must_equal_the_discovery_issuer(client, risc, issuer):
    assert_refused(risc.post(client, sign(claims(iss=issuer))), "invalid_issuer")


def test_the_issuer_setting_is_not_used(client, risc):
    # Only the discovery document says what Google's RISC issuer is.
    risc.mock.remove("GET", risc.discovery_mock.url)
    risc.discovery(issuer="https://issuer.example/")

    assert_refused(risc.post(client, sign(claims())), "invalid_issuer")
    assert risc.post(client, sign(claims(iss="https://issuer.example/"))).status_code == 202


def test_audience_must_be_the_client_id(client, risc):
    assert_refused(risc.post(client, sign(claims(aud="another-client"))), "invalid_audience")


def test_audience_may_be_a_list_holding_the_client_id(client, risc, settings):
    response = risc.post(client, sign(claims(aud=["other", settings.GOOGLE_CONNECT["CLIENT_ID"]])))

    assert response.status_code == 202


def test_risc_audiences_replaces_the_client_id(client, risc, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "RISC_AUDIENCES": ["a", "b"]}

    assert_refused(
        risc.post(client, sign(claims(aud=settings.GOOGLE_CONNECT["CLIENT_ID"]))),
        "invalid_audience",
    )
    assert risc.post(client, sign(claims(aud="b"))).status_code == 202


@pytest.mark.parametrize("claim", ["iat", "jti", "events", "aud", "iss"])
def test_required_claims(client, risc, claim):
    response = risc.post(client, sign(claims(**{claim: None})))

    assert response.status_code == 400
    assert GoogleSecurityEvent.objects.count() == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"jti": ""},
        {"jti": 42},
        {"iat": "yesterday"},
        {"iat": True},
        {"events": {}},
        {"events": []},
        {"events": {TOKENS_REVOKED: "revoked"}},
        {"events": {TOKENS_REVOKED: {}, TOKENS_REVOKED + "2": {}}},
    ],
)
def test_malformed_claims(client, risc, overrides):
    assert_refused(risc.post(client, sign(claims(**overrides))), "invalid_request")


def test_a_little_clock_skew_is_tolerated_but_not_a_future_token(client, risc):
    import time

    assert_refused(risc.post(client, sign(claims(iat=int(time.time()) + 3600))), "invalid_request")
    assert risc.post(client, sign(claims(iat=int(time.time()) + 30))).status_code == 202


def test_no_typ_header_is_needed(client, risc):
    token = jwt.encode(claims(), rsa_key(), algorithm="RS256", headers={"kid": KID, "typ": None})

    assert risc.post(client, token.encode()).status_code == 202


def test_exp_is_neither_required_nor_checked(client, risc):
    # Security events describe what already happened and may arrive late.
    assert risc.post(client, sign(claims(exp=1))).status_code == 202


def test_duplicate_jti_is_accepted_and_ignored(client, risc):
    account = make_account(sub="sub-1")
    first = sign(claims(jti="same"))

    assert risc.post(client, first).status_code == 202
    account.refresh_from_db()
    account.status = GoogleAccount.Status.ACTIVE
    account.save()
    assert risc.post(client, sign(claims(jti="same"))).status_code == 202

    assert GoogleSecurityEvent.objects.count() == 1
    account.refresh_from_db()
    assert account.status == GoogleAccount.Status.ACTIVE


def test_no_call_to_the_token_or_revoke_endpoints(client, risc, google):
    make_account(sub="sub-1")
    token_mock, revoke_mock = google.token(), google.revoke()

    assert risc.post(client, sign(claims())).status_code == 202

    assert (token_mock.call_count, revoke_mock.call_count) == (0, 0)
    assert [call.request.url for call in google.mock.calls] == [
        risc.discovery_mock.url,
        risc.jwks_mock.url,
    ]


def test_keys_unreachable_is_a_503_to_retry_later(client, google):
    from google_connect.google.risc_keys import KEYS

    KEYS.clear()
    # Nothing registered on the mock: the discovery fetch fails.
    response = client.post("/google/risc/events", sign(claims()), content_type="text/plain")

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert json.loads(response.content)["err"] == "temporarily_unavailable"


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_a_token_issued_minutes_ahead_is_refused(client, risc):
    ahead = int(time.time()) + 5 * 60

    assert_refused(risc.post(client, sign(claims(iat=ahead))), "invalid_request")


def test_an_empty_client_id_is_no_audience(client, risc, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "CLIENT_ID": ""}

    assert_refused(risc.post(client, sign(claims(aud=""))), "invalid_audience")


@pytest.mark.parametrize("aud", ["", [""]], ids=["aud a string", "aud a list"])
def test_an_empty_risc_audience_matches_no_token(client, risc, settings, aud):
    # Check E051 refuses [""], but a site running without its checks still
    # must not accept a token addressed to "": PyJWT would, for aud=[""].
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "RISC_AUDIENCES": [""]}

    assert_refused(risc.post(client, sign(claims(aud=aud))), "invalid_audience")


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(client, risc):
    # A good token, announced as larger than any token: refused unread, so a
    # sender cannot make the site read megabytes before saying no.
    response = client.post(
        "/google/risc/events",
        sign(claims()),
        content_type="application/secevent+jwt",
        CONTENT_LENGTH=str(security_event_token.MAX_TOKEN_BYTES + 1),
    )

    assert_refused(response, "invalid_request")
    assert json.loads(response.content)["description"] == "The body is too large."


def test_a_refusal_is_not_cached(client, risc):
    response = risc.post(client, b"hello")

    assert response.status_code == 400
    assert response["Cache-Control"] == "no-store"
