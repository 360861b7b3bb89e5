"""Every call to Google reuses its thread's pooled connection: one TLS handshake
per host, not one per call. Against a local HTTPS stand-in with a throwaway CA."""

import threading

import pytest
import trustme

from google_connect.google.oauth import GoogleOAuthClient
from tests.stub_google import StubGoogle

CALLS = 200


@pytest.fixture
def https_google(settings, tmp_path, monkeypatch):
    with StubGoogle(token_delay=0, tls=trustme.CA()) as stub:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", stub.ca_bundle(tmp_path))
        settings.GOOGLE_CONNECT = {
            **settings.GOOGLE_CONNECT,
            "TOKEN_URL": stub.token_url,
            "REVOKE_URL": stub.revoke_url,
            "USERINFO_URL": stub.userinfo_url,
        }
        yield stub


def on_a_new_thread(calls):
    """Run ``calls()`` on a thread of its own, so with a pooled session of its own."""
    errors = []

    def run():
        try:
            calls()
        except BaseException as exc:  # noqa: BLE001 (re-raised below)
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def test_refreshes_and_revokes_from_one_thread_share_one_connection(https_google):
    def calls():
        client = GoogleOAuthClient()
        for n in range(CALLS):
            assert client.refresh(f"1//REFRESH-{n}").access_token.startswith("ya29.STUB-")
        for n in range(CALLS):
            assert client.revoke(f"ya29.REVOKE-{n}") is True

    on_a_new_thread(calls)

    assert https_google.counts == {"token": CALLS, "revoke": CALLS, "userinfo": 0}
    assert https_google.connections == 1


def test_userinfo_calls_and_error_answers_keep_the_connection(https_google):
    def calls():
        client = GoogleOAuthClient()
        for _ in range(CALLS):
            assert client.fetch_userinfo("ya29.ACCESS").sub.startswith("stub-")
        # A 400 answer (an authorization code the stand-in does not take) is
        # read to its end too.
        for _ in range(10):
            with pytest.raises(Exception, match="unsupported_grant_type"):
                client.exchange_code(code="4/CODE", redirect_uri="https://x/", code_verifier="v")

    on_a_new_thread(calls)

    assert https_google.counts["userinfo"] == CALLS
    assert https_google.connections == 1
