"""Google's endpoints over TLS outside DEBUG (issue 22, item 8)."""

import pytest
from django.core.checks import Error, Warning, run_checks

pytestmark = pytest.mark.django_db

VALID = {"CLIENT_ID": "id.apps.googleusercontent.com", "CLIENT_SECRET": "secret"}
ELSEWHERE = "http://google.example.net/endpoint"

ID_TOKEN_OVER_HTTP = Error(
    "GOOGLE_CONNECT['TOKEN_URL'] must use https outside DEBUG when USE_ID_TOKEN is True.",
    hint="The id_token is trusted without checking its signature because it comes "
    "straight from the token endpoint over TLS; plain http is accepted only for localhost.",
    id="google_connect.E031",
)


def risc_over_http(key):
    return Error(
        f"GOOGLE_CONNECT[{key!r}] must use https outside DEBUG.",
        hint="Security events are trusted because their signing keys come from Google "
        "over TLS; plain http is accepted only for localhost.",
        id="google_connect.E053",
    )


def plain_http(key):
    return Warning(
        f"GOOGLE_CONNECT[{key!r}] does not use https outside DEBUG.",
        hint="Codes, tokens and the client secret would cross the network in the clear; "
        "plain http is meant for a local stand-in on localhost.",
        id="google_connect.W010",
    )


def google_connect_checks():
    return [m for m in run_checks() if m.id.startswith("google_connect.")]


@pytest.mark.parametrize("key", ["AUTHORIZE_URL", "TOKEN_URL", "USERINFO_URL", "REVOKE_URL"])
def test_an_oauth_endpoint_over_plain_http_is_a_warning(settings, key):
    settings.GOOGLE_CONNECT = {**VALID, key: ELSEWHERE}

    assert google_connect_checks() == [plain_http(key)]


@pytest.mark.parametrize("key", ["RISC_CONFIG_URL", "RISC_API_URL"])
def test_a_risc_url_over_plain_http_is_an_error(settings, key):
    settings.GOOGLE_CONNECT = {**VALID, key: ELSEWHERE}

    assert google_connect_checks() == [risc_over_http(key)]


def test_the_token_url_over_plain_http_with_use_id_token_is_an_error(settings):
    settings.GOOGLE_CONNECT = {**VALID, "TOKEN_URL": ELSEWHERE, "USE_ID_TOKEN": True}

    assert google_connect_checks() == [ID_TOKEN_OVER_HTTP]


def test_use_id_token_leaves_the_other_endpoints_a_warning(settings):
    settings.GOOGLE_CONNECT = {**VALID, "USERINFO_URL": ELSEWHERE, "USE_ID_TOKEN": True}

    assert google_connect_checks() == [plain_http("USERINFO_URL")]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_a_loopback_stand_in_over_plain_http_passes(settings, host):
    local = f"http://{host}:8000/fake-google/endpoint"
    settings.GOOGLE_CONNECT = {
        **VALID,
        "USE_ID_TOKEN": True,
        **{key: local for key in ("AUTHORIZE_URL", "TOKEN_URL", "USERINFO_URL", "REVOKE_URL")},
        "RISC_CONFIG_URL": local,
        "RISC_API_URL": local,
    }

    assert google_connect_checks() == []


def test_plain_http_anywhere_passes_in_debug(settings):
    settings.DEBUG = True
    settings.GOOGLE_CONNECT = {
        **VALID,
        "USE_ID_TOKEN": True,
        "TOKEN_URL": ELSEWHERE,
        "RISC_CONFIG_URL": ELSEWHERE,
    }

    assert google_connect_checks() == []


def test_a_url_with_another_scheme_is_left_to_the_url_checks(settings):
    settings.GOOGLE_CONNECT = {**VALID, "TOKEN_URL": "ftp://google.example.net/token"}

    assert [m.id for m in google_connect_checks()] == ["google_connect.E012"]
