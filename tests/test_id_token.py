"""USE_ID_TOKEN: the identity from the token answer's id_token, checked, without
the userinfo call; off by default."""

import base64
import json
import logging
import time

import pytest

from google_connect.models import GoogleAccount
from tests.support import SUB, connect, token_body

pytestmark = pytest.mark.django_db

CLIENT_ID = "test-client-id.apps.googleusercontent.com"
INVALID = 'data-reason="invalid_id_token"'


def segment(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FromNow(int):
    """A claim given as seconds from the moment the token is made, not collected.

    Parameters are built when pytest collects the tests, which can be minutes
    before a test runs in a long suite: a time fixed then drifts past the
    leeway that the test is about.
    """


def id_token(**overrides) -> str:
    now = int(time.time())
    overrides = {k: now + v if isinstance(v, FromNow) else v for k, v in overrides.items()}
    claims = {
        "iss": "https://accounts.google.com",
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": "200000000000000000001",
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/ada",
        "locale": "en-GB",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    # The signature is not checked (OpenID Connect Core 3.1.3.7): any will do.
    return f"{segment({'alg': 'RS256', 'kid': 'k'})}.{segment(claims)}.c2lnbmF0dXJl"


@pytest.fixture
def use_id_token(settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "USE_ID_TOKEN": True}


def userinfo_calls(google):
    return [c for c in google.mock.calls if c.request.url == google.config.USERINFO_URL]


def test_by_default_the_identity_comes_from_userinfo(alice, google):
    response = connect(alice, google, token=token_body(id_token=id_token()))

    assert response.status_code == 200
    assert len(userinfo_calls(google)) == 1
    assert GoogleAccount.objects.get().sub == SUB


def test_with_use_id_token_the_claims_are_the_identity_and_userinfo_is_not_called(
    alice, google, use_id_token
):
    response = connect(alice, google, token=token_body(id_token=id_token()))

    assert response.status_code == 200
    assert userinfo_calls(google) == []
    account = GoogleAccount.objects.get()
    assert (
        account.sub,
        account.email,
        account.email_verified,
        account.name,
        account.given_name,
        account.family_name,
        account.picture,
        account.locale,
    ) == (
        "200000000000000000001",
        "ada@example.com",
        True,
        "Ada Lovelace",
        "Ada",
        "Lovelace",
        "https://lh3.googleusercontent.com/a/ada",
        "en-GB",
    )


def test_without_an_id_token_userinfo_is_called(alice, google, use_id_token):
    response = connect(alice, google, token=token_body(id_token=None))

    assert response.status_code == 200
    assert len(userinfo_calls(google)) == 1
    assert GoogleAccount.objects.get().sub == SUB


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "accounts.google.com"},
        {"azp": None},
        {"aud": [CLIENT_ID]},
        {"aud": [CLIENT_ID, "other-client"], "azp": CLIENT_ID},
        # Within the 5 minutes of leeway.
        {"exp": FromNow(-200)},
        {"iat": FromNow(200)},
        {"email_verified": "true"},
        {"exp": 10**400},
    ],
    ids=[
        "bare issuer",
        "no azp",
        "aud list",
        "aud list with azp",
        "exp skew",
        "iat skew",
        "str",
        "huge exp",
    ],
)
def test_acceptable_id_tokens(alice, google, use_id_token, claims):
    response = connect(alice, google, token=token_body(id_token=id_token(**claims)))

    assert response.status_code == 200
    assert userinfo_calls(google) == []
    assert GoogleAccount.objects.get().email_verified is True


HEADER = segment({"alg": "RS256"})


@pytest.mark.parametrize(
    "token",
    [
        id_token(iss="https://evil.example"),
        id_token(iss=None),
        id_token(aud="other-client.apps.googleusercontent.com"),
        id_token(aud=None),
        id_token(aud=["other-client"]),
        id_token(aud=[CLIENT_ID, "other-client"], azp=None),
        id_token(azp="other-client.apps.googleusercontent.com"),
        lambda: id_token(exp=FromNow(-400)),
        id_token(exp=None),
        id_token(exp="tomorrow"),
        id_token(exp=True),
        id_token(exp=float("nan")),  # json.dumps writes NaN, and json.loads reads it
        id_token(exp=float("inf")),
        id_token(iat=None),
        lambda: id_token(iat=FromNow(400)),
        id_token(sub=None),
        id_token(sub=""),
        id_token(email=["ada@example.com"]),
        id_token(name="x" * 256),
        "not-a-jwt",
        f"{HEADER}.@@@.sig",
        f"{HEADER}.{segment(b'not json')}.sig",
        f"{HEADER}.{segment([1, 2])}.sig",
        f"{HEADER}.{segment(b'[' * 5000)}.sig",
        "",
        12345,
    ],
    ids=[
        "issuer",
        "no issuer",
        "audience",
        "no audience",
        "audience list",
        "audiences without azp",
        "azp",
        "expired",
        "no exp",
        "exp not a number",
        "exp true",
        "exp NaN",
        "exp Infinity",
        "no iat",
        "iat in the future",
        "no sub",
        "empty sub",
        "email not a string",
        "name too long",
        "one segment",
        "bad base64",
        "not json",
        "not an object",
        "too deep",
        "empty",
        "not a string",
    ],
)
def test_a_bad_id_token_is_refused_and_nothing_is_written(
    alice, google, use_id_token, token, caplog
):
    caplog.set_level(logging.WARNING, logger="google_connect")
    if callable(token):  # made now: its times are relative to the run
        token = token()

    response = connect(alice, google, token=token_body(id_token=token))

    assert response.status_code == 400
    assert INVALID in response.content.decode()
    # Never a silent fall-back to userinfo.
    assert userinfo_calls(google) == []
    assert GoogleAccount.objects.count() == 0
    assert "invalid_id_token" in caplog.text
    if isinstance(token, str) and token:
        assert token not in caplog.text
