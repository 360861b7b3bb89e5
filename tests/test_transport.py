"""The session used for Google's OAuth endpoints reads its environment once per origin."""

import pytest
import requests
import responses

from google_connect.google.transport import GoogleSession

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


@pytest.mark.parametrize("allow_redirects", [True, False])
@responses.activate
def test_a_redirect_is_never_followed(allow_redirects):
    responses.add(responses.POST, TOKEN_URL, status=307, headers={"Location": TOKEN_URL + "/v2"})
    responses.add(responses.POST, TOKEN_URL + "/v2", json={"moved": True})
    session = GoogleSession()

    answer = session.request(
        "POST", TOKEN_URL, data={"a": "b"}, timeout=5, allow_redirects=allow_redirects
    )

    assert answer.status_code == 307
    assert len(responses.calls) == 1
    assert answer.next is None
