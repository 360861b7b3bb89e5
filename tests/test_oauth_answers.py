"""How google_connect reads Google's answers, whatever shape they come in."""

import socket

import pytest
import requests

from google_connect.exceptions import RevokeFailed, TokenExchangeFailed
from google_connect.google.oauth import GoogleOAuthClient
from tests.support import ACCESS_TOKEN, token_body


def read_the_body(response, *args, **kwargs):
    response.content  # noqa: B018 (reading it is the point)


EXCHANGE = {"code": "4/CODE", "redirect_uri": "https://example.com/cb", "code_verifier": "v" * 43}


def test_an_answer_nested_too_deep_to_parse_is_a_failed_exchange(google):
    # Small enough to pass the size cap, deep enough to exhaust the parser.
    google.mock.post(google.config.TOKEN_URL, body=b"[" * 60_000)

    with pytest.raises(TokenExchangeFailed, match="not a JSON object"):
        GoogleOAuthClient().exchange_code(**EXCHANGE)


def test_an_answer_a_response_hook_has_read_already_is_still_read(google):
    # A session of the site's own (GoogleOAuthClient(session=...)) may have
    # hooks that read the body first.
    google.token()
    session = requests.Session()
    session.hooks["response"].append(read_the_body)

    tokens = GoogleOAuthClient(session=session).exchange_code(**EXCHANGE)

    assert tokens.access_token == ACCESS_TOKEN


def test_an_answer_over_the_cap_from_a_hook_read_body_is_refused(google):
    google.token({**token_body(), "padding": "x" * (70 * 1024)})
    session = requests.Session()
    session.hooks["response"].append(read_the_body)

    with pytest.raises(TokenExchangeFailed, match="too large"):
        GoogleOAuthClient(session=session).exchange_code(**EXCHANGE)


def test_a_failed_call_names_the_host_it_tried(settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "REVOKE_URL": f"http://127.0.0.1:{port}/r",
    }

    with pytest.raises(RevokeFailed) as failure:
        GoogleOAuthClient().revoke("token")

    assert (
        str(failure.value) == f"Google (127.0.0.1:{port}) could not be reached (ConnectionError)."
    )
