"""The session used for Google's OAuth endpoints reads its environment once per origin."""

import pytest
import requests
import responses

from google_connect.transport import GoogleSession

TOKEN_URL = "https://oauth2.googleapis.com/token"


def settings_for(session, url=TOKEN_URL):
    return session.merge_environment_settings(url, {}, False, None, None)


def test_proxy_variables_apply(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert settings_for(GoogleSession())["proxies"]["https"] == "http://proxy.example:3128"


def test_no_proxy_applies(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "oauth2.googleapis.com")

    assert "https" not in settings_for(GoogleSession())["proxies"]


def test_a_ca_bundle_variable_applies(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/custom-bundle.pem")

    assert settings_for(GoogleSession())["verify"] == "/etc/ssl/custom-bundle.pem"


def test_the_environment_is_read_once_per_origin(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://first.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = GoogleSession()
    settings_for(session)

    monkeypatch.setenv("HTTPS_PROXY", "http://second.example:3128")

    assert settings_for(session)["proxies"]["https"] == "http://first.example:3128"
    other_origin = settings_for(session, "https://www.googleapis.com/oauth2/v3/userinfo")
    assert other_origin["proxies"]["https"] == "http://second.example:3128"


def test_callers_cannot_change_the_cached_answer(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = GoogleSession()
    settings_for(session)["proxies"].clear()

    assert settings_for(session)["proxies"]["https"] == "http://proxy.example:3128"


def test_netrc_is_not_consulted(tmp_path, monkeypatch):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine oauth2.googleapis.com login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    session = GoogleSession()

    prepared = session.prepare_request(requests.Request("POST", TOKEN_URL, data={"a": "b"}))

    assert "Authorization" not in prepared.headers


# -- google_connect's own calls are prepared directly -----------------------------


def requests_own_preparation(method, url, **kwargs):
    """What requests itself would send for the same call, from a plain session."""
    session = requests.Session()
    session.headers.update(GoogleSession().headers)
    session.trust_env = False
    return session.prepare_request(requests.Request(method, url, **kwargs))


def sent_by(session, method, url, **kwargs):
    sent = []

    def capture(request, **_settings):
        sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response.request = request
        return response

    session.get_adapter(url).send = capture
    session.request(method, url, timeout=5, **kwargs)
    [request] = sent
    return request


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("POST", TOKEN_URL, {"data": {"code": "4/0Ab c&d=é", "grant_type": "authorization_code"}}),
        (
            "GET",
            "https://www.googleapis.com/oauth2/v3/userinfo",
            {"headers": {"Authorization": "Bearer ya29.x"}},
        ),
        ("POST", "https://oauth2.googleapis.com/revoke", {"data": {"token": "ya29.x"}}),
        ("POST", TOKEN_URL, {}),
        ("GET", "https://www.googleapis.com/oauth2/v3/userinfo?x=1 2", {}),
    ],
    ids=["form", "bearer header", "revoke", "empty post", "url to encode"],
)
def test_a_plain_call_is_sent_as_requests_would_send_it(method, url, kwargs):
    expected = requests_own_preparation(method, url, **kwargs)

    sent = sent_by(GoogleSession(), method, url, **kwargs)

    assert (sent.method, sent.url, sent.body) == (expected.method, expected.url, expected.body)
    assert dict(sent.headers) == dict(expected.headers)


def test_other_calls_go_through_requests_own_preparation():
    session = GoogleSession()

    sent = sent_by(session, "POST", TOKEN_URL, params={"a": "1"}, json={"b": 2})

    assert sent.url == TOKEN_URL + "?a=1"
    assert sent.body == b'{"b": 2}'
    assert sent.headers["Content-Type"] == "application/json"


def test_a_header_with_a_line_break_is_refused_before_sending():
    with pytest.raises(requests.exceptions.InvalidHeader):
        sent_by(GoogleSession(), "GET", TOKEN_URL, headers={"Authorization": "Bearer a\r\nX: y"})


@responses.activate
def test_cookies_set_by_one_answer_are_not_sent_with_the_next_call():
    # One session serves every call a thread makes, for every user.
    responses.add(responses.POST, TOKEN_URL, json={}, headers={"Set-Cookie": "NID=someone; Path=/"})
    responses.add(responses.POST, TOKEN_URL, json={})
    session = GoogleSession()

    session.request("POST", TOKEN_URL, data={"a": "b"}, timeout=5)
    session.request("POST", TOKEN_URL, data={"a": "b"}, timeout=5)

    assert len(session.cookies) == 0
    assert "Cookie" not in responses.calls[1].request.headers


@responses.activate
def test_a_redirect_is_followed_or_not_as_the_caller_asks():
    responses.add(responses.POST, TOKEN_URL, status=307, headers={"Location": TOKEN_URL + "/v2"})
    responses.add(responses.POST, TOKEN_URL + "/v2", json={"moved": True})
    session = GoogleSession()

    followed = session.request("POST", TOKEN_URL, data={"a": "b"}, timeout=5)
    kept = session.request("POST", TOKEN_URL, data={"a": "b"}, timeout=5, allow_redirects=False)

    assert (followed.status_code, followed.json()) == (200, {"moved": True})
    assert responses.calls[1].request.body == "a=b"
    assert kept.status_code == 307


def test_a_session_header_set_to_none_is_not_sent():
    session = GoogleSession()
    session.headers["Accept-Encoding"] = None

    sent = sent_by(session, "POST", TOKEN_URL, data={"a": "b"})

    assert "Accept-Encoding" not in sent.headers
    assert sent.headers["User-Agent"].startswith("google-connect/")
