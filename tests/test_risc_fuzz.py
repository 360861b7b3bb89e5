"""Arbitrary bodies thrown at the security event receiver (Hypothesis): never a 5xx.

Three kinds of body: raw bytes; three base64url segments of arbitrary JSON
(unsigned, or with a signature of random bytes); and tokens signed with
Google's test key whose header and claims are arbitrary, or Google's own with
arbitrary changes. The receiver answers 202 or an RFC 8935 400, and nothing
but a 202 writes a row.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import jwt
import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from google_connect.models import GoogleSecurityEvent
from tests.factories import make_account
from tests.figures import report
from tests.risc_support import KID, TOKEN_REVOKED, TOKENS_REVOKED, claims, iss_sub, rsa_key

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 500 if os.environ.get("CI") else 200
RECEIVER = "/google/risc/events"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
claim_names = st.sampled_from(["iss", "aud", "iat", "jti", "events", "exp", "sub", "nbf"])
event_types = st.sampled_from([TOKENS_REVOKED, TOKEN_REVOKED, "x", ""]) | st.text(max_size=30)
events = st.dictionaries(
    event_types,
    st.fixed_dictionaries(
        {},
        optional={
            "subject": st.one_of(
                json_values,
                st.just(iss_sub("sub-1")),
                st.fixed_dictionaries(
                    {
                        "subject_type": st.just("oauth_token"),
                        "token_type": st.sampled_from(["refresh_token", "access_token"]),
                        "token_identifier_alg": st.sampled_from(
                            ["prefix", "hash_base64_sha512_sha512", "x"]
                        ),
                        "token": st.text(max_size=100),
                    }
                ),
            ),
            "reason": json_values,
            "state": json_values,
        },
    ),
    max_size=2,
)


def b64(value: bytes) -> str:
    return jwt.utils.base64url_encode(value).decode()


@st.composite
def signed_tokens(draw):
    payload = claims()
    for name in draw(st.lists(claim_names, max_size=3)):
        payload[name] = draw(json_values)
    if draw(st.booleans()):
        payload["events"] = draw(events)
    header = {"alg": "RS256", "kid": KID}
    for name in draw(st.lists(st.sampled_from(["alg", "kid", "typ", "crit", "jku"]), max_size=2)):
        header[name] = draw(json_values)
    try:
        return jwt.encode(payload, rsa_key(), algorithm="RS256", headers=header).encode()
    except (TypeError, ValueError, NotImplementedError, jwt.PyJWTError):
        # What PyJWT itself will not encode (a NaN, a header it refuses): as JSON by hand.
        return unsigned(header, payload, b"sig")


def unsigned(header, payload, signature: bytes) -> bytes:
    def encode(value):
        return b64(json.dumps(value, default=str).encode())

    return f"{encode(header)}.{encode(payload)}.{b64(signature)}".encode()


@st.composite
def json_segments(draw):
    header = draw(json_values | st.just({"alg": "RS256", "kid": KID}))
    return unsigned(header, draw(json_values), draw(st.binary(max_size=300)))


bodies = st.one_of(
    st.binary(max_size=2000),
    st.text(alphabet="abcAB-_.=019 \n", max_size=200).map(str.encode),
    json_segments(),
    signed_tokens(),
)
content_types = st.sampled_from(
    ["application/secevent+jwt", "application/jwt", "text/plain", "application/json",
     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)  # fmt: skip


def test_the_receiver_survives_arbitrary_bodies(risc):
    make_account(sub="sub-1")
    client = Client(raise_request_exception=True)
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(bodies, content_types)
    def check(body, content_type):
        rows_before = GoogleSecurityEvent.objects.count()
        try:
            response = client.post(RECEIVER, body, content_type=content_type)
        except Exception as exc:  # the test client re-raises what would be a 500
            raise AssertionError(f"the receiver raised {type(exc).__name__}: a 500") from exc
        assert response.status_code in (202, 400), (response.status_code, body[:200])
        rows_after = GoogleSecurityEvent.objects.count()
        if response.status_code == 400:
            answer = json.loads(response.content)
            assert set(answer) == {"err", "description"}
            assert rows_after == rows_before
            outcomes[answer["err"]] += 1
        else:
            assert rows_after <= rows_before + 1
            outcomes["accepted"] += 1

    check()
    report("risc fuzz outcomes", ", ".join(f"{k} {n}" for k, n in outcomes.most_common()))
