"""Google's RISC discovery document and key set: cached, refetched when due, never hammered."""

import pytest
import requests

from google_connect.conf import get_settings
from google_connect.google.risc_keys import KEYS, RiscKeysUnavailable, cache_seconds
from tests.risc_support import ISSUER, KID, claims, rsa_key, sign

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(KEYS, "clock", clock)
    return clock


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 300),
        ("no-cache", 300),
        ("public, max-age=60", 300),
        ("public, max-age=20762, must-revalidate, no-transform", 20762),
        ("max-age=999999999", 86400),
        ('max-age="3600"', 3600),
    ],
)
def test_cache_lifetime_follows_max_age_within_bounds(header, seconds):
    assert cache_seconds(header) == seconds


def test_keys_are_fetched_once_while_fresh(client, risc, clock):
    for _ in range(3):
        assert risc.post(client, sign(claims())).status_code == 202
        clock.now += 100

    assert (risc.discovery_mock.call_count, risc.jwks_mock.call_count) == (1, 1)


def test_keys_are_fetched_again_when_max_age_passed(client, risc, clock):
    risc.replace_jwks(headers={"Cache-Control": "public, max-age=3600"})
    risc.post(client, sign(claims()))

    clock.now += 3599
    risc.post(client, sign(claims()))
    assert risc.jwks_mock.call_count == 1

    clock.now += 2
    risc.post(client, sign(claims()))
    assert risc.jwks_mock.call_count == 2


def test_the_fetch_goes_through_the_shared_session_with_the_timeout(client, risc, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TIMEOUT": 3}

    risc.post(client, sign(claims()))

    requests_sent = [call.request for call in risc.mock.calls]
    assert [r.req_kwargs["timeout"] for r in requests_sent] == [3, 3]
    assert all(r.headers["User-Agent"].startswith("google-connect/") for r in requests_sent)


def test_a_rotated_key_is_found_by_refetching(client, risc, clock):
    risc.post(client, sign(claims()))
    clock.now += 61
    risc.replace_jwks(("new-kid", rsa_key("rotated")), (KID, rsa_key()))

    response = risc.post(client, sign(claims(), key=rsa_key("rotated"), kid="new-kid"))

    assert response.status_code == 202
    assert risc.jwks_mock.call_count == 1


def test_unknown_kids_refetch_at_most_once_a_minute(client, risc, clock):
    risc.post(client, sign(claims()))
    risc.replace_jwks()

    for _ in range(5):
        clock.now += 10
        assert risc.post(client, sign(claims(), kid="forged")).status_code == 400
    assert risc.jwks_mock.call_count == 0

    clock.now += 11  # 61 s after the first fetch
    risc.post(client, sign(claims(), kid="forged"))
    risc.post(client, sign(claims(), kid="forged"))
    assert risc.jwks_mock.call_count == 1


def test_a_failed_refetch_keeps_the_cached_keys(client, risc, clock):
    risc.post(client, sign(claims()))
    risc.mock.remove("GET", risc.jwks_mock.url)
    risc.mock.get(risc.jwks_mock.url, body=requests.ConnectionError("down"))
    clock.now += 301

    assert risc.post(client, sign(claims())).status_code == 202


@pytest.mark.parametrize(
    "discovery",
    [{"issuer": ISSUER}, {"jwks_uri": "https://x/"}, {"issuer": 3, "jwks_uri": "ftp://x"}, []],
)
def test_an_unusable_discovery_document(risc, discovery):
    risc.mock.remove("GET", risc.discovery_mock.url)
    risc.mock.get(get_settings().RISC_CONFIG_URL, json=discovery)

    with pytest.raises(RiscKeysUnavailable):
        KEYS.discovery(get_settings())


def test_keys_of_other_types_are_left_out(risc):
    risc.mock.remove("GET", risc.jwks_mock.url)
    ec_jwk = {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}
    broken = {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}
    risc.mock.get(risc.jwks_mock.url, json={"keys": [ec_jwk, broken, "junk"]})

    assert KEYS.key(get_settings(), "ec") is None
    assert KEYS.key(get_settings(), "broken") is None
