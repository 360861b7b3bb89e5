"""Arbitrary query strings thrown at the connect view (Hypothesis).

Whatever arrives at the redirect URI (repeated parameters, huge values,
unicode and control characters, states that look right but aren't, a code
without a state, ``error`` with a code, broken percent-encoding, bytes that are
not UTF-8), the view answers 400, writes no row, and calls Google only when the
state of a flow this session started is presented.

Some examples carry the real state of a flow started just before (or a near
miss of it). Google's token endpoint refuses every code, as it would a forged
one, so even a valid state ends in the 400 page.
"""

from __future__ import annotations

import os
import re
import string
from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.figures import report
from tests.support import AUTH_CODE, SUB, start_flow

pytestmark = pytest.mark.django_db

CONNECT = "/google/accounts/connect"
# At least 500 examples where CI services set $CI; fewer locally keeps the suite quick.
MAX_EXAMPLES = 500 if os.environ.get("CI") else 200
URLSAFE = string.ascii_letters + string.digits + "-_"
# The view refuses a code longer than any Google issues without asking Google.
MAX_CODE_LENGTH = 2048
REASON = re.compile(r'data-reason="([a-z_]+)"')


@dataclass(frozen=True)
class RealState:
    """Stands for the state of a flow started for the example, maybe altered."""

    near_miss: str

    def resolve(self, state: str) -> str:
        return NEAR_MISSES[self.near_miss](state)


NEAR_MISSES = {
    "exact": lambda s: s,
    "swapped case": lambda s: s.swapcase(),
    "one character short": lambda s: s[:-1],
    "one character more": lambda s: s + "A",
    "base64 padding": lambda s: s + "=",
    "leading space": lambda s: " " + s,
    "trailing newline": lambda s: s + "\n",
    "trailing NUL": lambda s: s + "\x00",
    "last character changed": lambda s: s[:-1] + ("B" if s.endswith("A") else "A"),
    "fullwidth lookalike": lambda s: s[:-1] + chr(0xFF21),  # "Ａ"
}

controls = st.text(
    alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"]), max_size=16
)
huge = st.builds(lambda char, n: char * n, st.characters(codec="utf-8"), st.integers(2049, 70_000))
values = st.one_of(
    st.just(""),
    st.text(alphabet=URLSAFE, min_size=43, max_size=43),  # looks like one of our states
    st.text(max_size=64),  # any unicode, control characters included
    controls,
    huge,
    st.sampled_from(
        ["access_denied", "consent_required", AUTH_CODE, "%", "%zz", "%C3", "+", "&", "=", "#"]
        + ["https://accounts.google.com"]  # Google's iss (RFC 9207)
    ),
    st.builds(RealState, st.sampled_from(sorted(NEAR_MISSES))),
)
names = st.one_of(
    st.sampled_from(
        ["state", "code", "error", "error_description", "scope", "authuser", "prompt", "iss"]
    ),
    st.sampled_from(["STATE", "Code", "state[]", "code ", " state", "state\x00", "stat%65"]),
    st.text(max_size=12),
)
pairs = st.tuples(names, values)
the_real_state = st.builds(RealState, st.just("exact"))
codes = st.one_of(st.just(AUTH_CODE), st.text(URLSAFE + "/", min_size=1, max_size=100), values)

# Shapes the issue names, each padded with arbitrary extra pairs.
well_formed = st.tuples(
    st.tuples(st.just("state"), the_real_state), st.tuples(st.just("code"), codes)
)
malformed = st.one_of(
    st.tuples(st.tuples(st.just("code"), codes)),  # code without state
    st.tuples(  # error together with code
        st.tuples(st.just("state"), st.one_of(the_real_state, values)),
        st.tuples(st.just("code"), codes),
        st.tuples(st.just("error"), values),
    ),
    st.tuples(  # a repeated state
        st.tuples(st.just("state"), st.one_of(the_real_state, values)),
        st.tuples(st.just("state"), st.one_of(the_real_state, values)),
        st.tuples(st.just("code"), codes),
    ),
    st.tuples(  # a repeated code
        st.tuples(st.just("state"), the_real_state),
        st.tuples(st.just("code"), codes),
        st.tuples(st.just("code"), codes),
    ),
    st.just(()),
)
# Half the examples are well formed: the path that reaches Google needs the most examples.
shapes = st.one_of(well_formed, malformed)


@st.composite
def callbacks(draw):
    """(pairs, how they are encoded, junk bytes to prepend in "bytes" mode, who sends them)."""
    chosen = list(draw(shapes)) + draw(st.lists(pairs, max_size=4))
    return (
        draw(st.permutations(chosen)),
        draw(st.sampled_from(["browser", "form", "raw", "bytes"])),
        draw(st.binary(max_size=64)),
        draw(st.sampled_from(["owner", "owner", "anonymous"])),
    )


def encode(pairs, how, junk: bytes) -> tuple[str, bool]:
    """The query string as sent, and whether it decodes back to exactly ``pairs``."""
    if how in ("browser", "form"):
        quoted = quote if how == "browser" else quote_plus
        return "&".join(f"{quoted(n, safe='')}={quoted(v, safe='')}" for n, v in pairs), True
    raw = "&".join(f"{n}={v}" for n, v in pairs)
    if how == "raw":
        # As typed into an address bar: the test client sends it UTF-8 encoded.
        return raw, False
    # Arbitrary bytes, valid UTF-8 or not, as a WSGI server hands them over (latin-1).
    return junk.decode("latin-1") + "&" + raw.encode().decode("latin-1"), False


def expected_reason(pairs, owner: bool, state: str) -> str:
    """The reason docs/reference/errors.md gives for a callback, Google refusing every code."""
    states = [v for n, v in pairs if n == "state"]
    if not owner or not state or states != [state]:
        return "invalid_state"
    # RFC 9207: iss, when present, once and exactly Google's.
    issuers = [v for n, v in pairs if n == "iss"]
    if issuers and issuers != ["https://accounts.google.com"]:
        return "invalid_issuer"
    if any(n == "error" for n, _ in pairs):
        return "access_denied"
    codes = [v for n, v in pairs if n == "code"]
    if len(codes) != 1 or not codes[0] or len(codes[0]) > MAX_CODE_LENGTH:
        return "invalid_request"
    return "token_exchange_failed"


def test_the_callback_survives_arbitrary_query_strings(alice, user, google):
    make_account(user, sub=SUB)  # a reconnect must not touch it either
    rows = list(GoogleAccount.objects.values())
    google.token({"error": "invalid_grant", "error_description": "Malformed auth code."}, 400)
    google.userinfo()
    google.revoke()
    anonymous = Client()
    examples = 0
    reasons: Counter[str] = Counter()

    @settings(max_examples=MAX_EXAMPLES, deadline=None)
    @given(callbacks())
    def check(callback):
        nonlocal examples
        examples += 1
        drawn, how, junk, sender = callback
        state = (
            start_flow(alice)["state"] if any(isinstance(v, RealState) for _, v in drawn) else ""
        )
        pairs = [(n, v.resolve(state) if isinstance(v, RealState) else v) for n, v in drawn]
        query, exact = encode(pairs, how, junk)
        client = alice if sender == "owner" else anonymous
        calls_before = len(google.mock.calls)

        try:
            if how == "bytes":
                response = client.get(CONNECT, QUERY_STRING=query)
            else:
                response = client.get(f"{CONNECT}?{query}")
        except Exception as exc:  # the test client re-raises what would be a 500
            raise AssertionError(f"the view raised {type(exc).__name__}: a 500") from exc

        calls = [call.request.url for call in google.mock.calls[calls_before:]]
        assert response.status_code == 400
        found = REASON.findall(response.content.decode())
        # Only Django's TooManyFieldsSent (a value of 1,000+ "&") comes before the view.
        reasons.update(found or ["(Django's own 400)"])
        if found:
            assert response["Referrer-Policy"] == "no-referrer"
            assert response["Cache-Control"] == "no-store"
        assert list(GoogleAccount.objects.values()) == rows
        if sender != "owner" or not state or state not in query:
            assert calls == []
        if exact:
            reason = expected_reason(pairs, sender == "owner", state)
            assert found == [reason], f"expected {reason}, got {found} for {query[:200]!r}"
            token_call = [google.config.TOKEN_URL] if reason == "token_exchange_failed" else []
            assert calls == token_call
        else:
            assert set(calls) <= {google.config.TOKEN_URL}

    check()
    report("hypothesis examples", examples)
    report("hypothesis outcomes", ", ".join(f"{r} {n}" for r, n in reasons.most_common()))


def test_more_parameters_than_django_parses_is_a_400(alice):
    state = start_flow(alice)["state"]
    query = f"state={state}&code={AUTH_CODE}&" + "&".join(f"p{i}=x" for i in range(1001))

    response = alice.get(f"{CONNECT}?{query}")

    assert response.status_code == 400
    assert not GoogleAccount.objects.exists()
