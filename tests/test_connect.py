"""The callback, step by step, as the spec and the issue describe it."""

import base64
import gzip
import hashlib
import json
import logging
from datetime import timedelta
from urllib.parse import parse_qs, unquote

import pytest
from django.db import connection
from django.utils import timezone
from responses import matchers

from google_connect.models import GoogleAccount
from google_connect.signals import google_account_connected
from google_connect.web.views import REDACTED
from tests.factories import make_account
from tests.support import (
    ACCESS_TOKEN,
    AUTH_CODE,
    EMAIL,
    REFRESH_TOKEN,
    SUB,
    connect,
    finish_flow,
    recording,
    start_flow,
    token_body,
    userinfo_body,
)
from tests.test_id_token import id_token

pytestmark = pytest.mark.django_db

SPEC_TEXT = "Something went wrong; to fix this please disconnect Google completely then retry."
# Issue 29: the guide is a link with words, and the spec's sentence with it is
# shown only where disconnecting at Google is the fix.
HELP_LINK = (
    '<a class="google-connect-guide" href="https://myaccount.google.com/permissions" '
    'target="_blank" rel="noopener noreferrer">Follow this guide</a>'
)
DISCONNECT_REASONS = {"missing_refresh_token", "scope_not_granted"}


def assert_failed(response, reason, *, disconnect_advice=None):
    """A 400 error page for ``reason``; ``disconnect_advice``: whether it shows
    the spec's sentence and guide (by default, where the reason alone says so)."""
    if disconnect_advice is None:
        disconnect_advice = reason in DISCONNECT_REASONS
    assert response.status_code == 400
    content = response.content.decode()
    assert (SPEC_TEXT in content) is disconnect_advice
    assert (HELP_LINK in content) is disconnect_advice
    assert f'data-reason="{reason}"' in content
    assert 'href="/google/accounts/authorize"' in content
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, AUTH_CODE, "TEST-CLIENT-SECRET"):
        assert secret not in content
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.fixture
def signals():
    """Every ``google_account_connected`` send, as kwargs.

    Tests that use it run with ``transaction=True``: the signal is sent on
    commit, and only a real commit runs on-commit callbacks."""
    with recording(google_account_connected) as sent:
        yield sent


# -- the happy path --------------------------------------------------------------


def test_successful_connect_stores_the_account(alice, user, google):
    before = timezone.now()
    response = connect(alice, google)

    assert response.status_code == 200
    account = GoogleAccount.objects.get()
    assert account.user == user
    assert account.sub == SUB
    assert account.email == EMAIL
    assert account.email_verified is True
    assert (account.name, account.given_name, account.family_name) == ("John Doe", "John", "Doe")
    assert account.picture == "https://lh3.googleusercontent.com/a-/AOh14Gh"
    assert account.locale == "en"
    assert account.access_token == ACCESS_TOKEN
    assert account.refresh_token == REFRESH_TOKEN
    assert account.token_type == "Bearer"
    assert before + timedelta(seconds=3599) <= account.expires_at
    assert account.expires_at <= timezone.now() + timedelta(seconds=3599)
    assert account.granted_scopes == [
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    ]
    assert account.status == GoogleAccount.Status.ACTIVE


def test_connected_page_names_the_email(alice, google):
    response = connect(alice, google)

    assert f"Your Google account {EMAIL} is connected." in response.content.decode()
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"


def test_code_exchange_posts_the_documented_form(alice, google, settings):
    params = start_flow(alice)
    verifier = alice.session["google_connect_flows"][0]["code_verifier"]
    google.token(
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "code": AUTH_CODE,
                    "client_id": settings.GOOGLE_CONNECT["CLIENT_ID"],
                    "client_secret": settings.GOOGLE_CONNECT["CLIENT_SECRET"],
                    "redirect_uri": "http://testserver/google/accounts/connect",
                    "grant_type": "authorization_code",
                    "code_verifier": verifier,
                }
            ),
            matchers.header_matcher({"Content-Type": "application/x-www-form-urlencoded"}),
        ]
    )
    google.userinfo()

    response = finish_flow(alice, params["state"])

    assert response.status_code == 200
    assert GoogleAccount.objects.count() == 1


def test_pkce_verifier_sent_matches_the_challenge(alice, google):
    google.token()
    google.userinfo()
    params = start_flow(alice)

    finish_flow(alice, params["state"])

    [sent] = google.token_requests()
    digest = hashlib.sha256(sent["code_verifier"][0].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]


def test_userinfo_gets_the_token_in_the_authorization_header(alice, google):
    google.token()
    userinfo = google.userinfo(
        match=[matchers.header_matcher({"Authorization": f"Bearer {ACCESS_TOKEN}"})]
    )
    params = start_flow(alice)

    finish_flow(alice, params["state"])

    assert userinfo.call_count == 1
    assert ACCESS_TOKEN not in userinfo.calls[0].request.url


@pytest.mark.django_db(transaction=True)
def test_signal_fires_once_with_the_documented_kwargs(alice, google, signals):
    response = connect(alice, google)

    [kwargs] = signals
    assert kwargs["sender"] is GoogleAccount
    assert kwargs["account"] == GoogleAccount.objects.get()
    assert kwargs["created"] is True
    assert kwargs["request"] is response.wsgi_request


@pytest.mark.django_db(transaction=True)
def test_signal_is_sent_after_the_request_transaction_commits(alice, google, monkeypatch):
    # With ATOMIC_REQUESTS the whole view runs in a transaction; a receiver
    # called before its commit would run inside that atomic block.
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    seen = []

    def receiver(account, **kwargs):
        seen.append(
            (connection.in_atomic_block, GoogleAccount.objects.filter(pk=account.pk).exists())
        )

    google_account_connected.connect(receiver)
    try:
        response = connect(alice, google)
    finally:
        google_account_connected.disconnect(receiver)

    assert response.status_code == 200
    assert seen == [(False, True)]


def test_safe_next_redirects_after_success(alice, google):
    response = connect(alice, google, next_url="/settings/")

    assert response.status_code == 302
    assert response["Location"] == "/settings/"
    assert response["Referrer-Policy"] == "no-referrer"


def test_open_redirect_next_is_not_followed(alice, google):
    response = connect(alice, google, next_url="https://evil.example/phish")

    assert response.status_code == 200
    assert GoogleAccount.objects.count() == 1


def test_short_scope_names_count_as_their_url_forms(alice, google):
    response = connect(alice, google, token=token_body(scope="openid email profile"))

    assert response.status_code == 200
    assert GoogleAccount.objects.get().granted_scopes == ["openid", "email", "profile"]


def test_optional_scope_may_be_declined_when_not_required(alice, google, settings):
    calendar = "https://www.googleapis.com/auth/calendar"
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "SCOPES": ["openid", "email", calendar],
        "REQUIRED_SCOPES": ["openid", "email"],
    }

    response = connect(alice, google, token=token_body(scope="openid email"))

    assert response.status_code == 200


def test_absent_scope_means_the_requested_scopes_were_granted(alice, google):
    response = connect(alice, google, token=token_body(scope=None))

    assert response.status_code == 200
    assert GoogleAccount.objects.get().scopes == (
        "openid https://www.googleapis.com/auth/userinfo.email "
        "https://www.googleapis.com/auth/userinfo.profile"
    )


# -- reconnects and the refresh-token edge case -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_reconnect_updates_the_same_row(alice, google, signals):
    connect(alice, google)
    first = GoogleAccount.objects.get()
    google.mock.reset()

    response = connect(
        alice,
        google,
        token=token_body(access_token="ya29.SECOND", refresh_token="1//SECOND"),
        userinfo=userinfo_body(email="new@example.com", name="Johnny"),
    )

    assert response.status_code == 200
    account = GoogleAccount.objects.get()
    assert account.pk == first.pk
    assert (account.email, account.name) == ("new@example.com", "Johnny")
    assert (account.access_token, account.refresh_token) == ("ya29.SECOND", "1//SECOND")
    assert [kwargs["created"] for kwargs in signals] == [True, False]


def test_reconnect_without_refresh_token_keeps_the_stored_one(alice, google):
    connect(alice, google)
    google.mock.reset()

    response = connect(
        alice, google, token=token_body(access_token="ya29.SECOND", refresh_token=None)
    )

    assert response.status_code == 200
    account = GoogleAccount.objects.get()
    assert account.access_token == "ya29.SECOND"
    assert account.refresh_token == REFRESH_TOKEN


def test_reconnect_sets_a_broken_account_active_again(alice, google):
    connect(alice, google)
    GoogleAccount.objects.update(status=GoogleAccount.Status.RECONNECT_REQUIRED)
    google.mock.reset()

    connect(alice, google)

    assert GoogleAccount.objects.get().status == GoogleAccount.Status.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_first_connect_without_refresh_token_fails_and_revokes(alice, google, signals):
    revoke = google.revoke(match=[matchers.urlencoded_params_matcher({"token": ACCESS_TOKEN})])

    response = connect(alice, google, token=token_body(refresh_token=None))

    assert_failed(response, "missing_refresh_token")
    assert GoogleAccount.objects.count() == 0
    assert revoke.call_count == 1
    assert signals == []


@pytest.mark.parametrize("status", [500, 503])
def test_failed_revoke_is_logged_without_the_token_and_page_is_unchanged(
    alice, google, caplog, status
):
    google.revoke(status=status)
    caplog.set_level(logging.DEBUG)

    response = connect(alice, google, token=token_body(refresh_token=None))

    assert_failed(response, "missing_refresh_token")
    assert any("Revoking" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert ACCESS_TOKEN not in record.getMessage()


def test_unreachable_revoke_is_logged_and_page_is_unchanged(alice, google, caplog):
    caplog.set_level(logging.WARNING)
    # No revoke response registered: ``responses`` refuses the connection.

    response = connect(alice, google, token=token_body(refresh_token=None))

    assert_failed(response, "missing_refresh_token")
    assert "Revoking the grant without a refresh token failed" in caplog.text


def test_the_last_pending_flow_leaves_nothing_in_the_session(alice, google):
    google.token()
    google.userinfo()
    first, second = start_flow(alice)["state"], start_flow(alice)["state"]

    finish_flow(alice, first)
    assert [entry["state"] for entry in alice.session["google_connect_flows"]] == [second]
    finish_flow(alice, second)

    assert "google_connect_flows" not in alice.session


# -- failures ---------------------------------------------------------------------


def test_replayed_state_is_rejected(alice, google):
    google.token()
    google.userinfo()
    state = start_flow(alice)["state"]
    assert finish_flow(alice, state).status_code == 200

    response = finish_flow(alice, state)

    assert_failed(response, "invalid_state")
    assert len(google.token_requests()) == 1


def test_missing_state_is_rejected(alice, google):
    start_flow(alice)

    response = alice.get("/google/accounts/connect", {"code": AUTH_CODE})

    assert_failed(response, "invalid_state")
    assert len(google.mock.calls) == 0


def test_unknown_state_is_rejected(alice, google):
    start_flow(alice)

    assert_failed(finish_flow(alice, "not-a-state-we-issued"), "invalid_state")
    assert len(google.mock.calls) == 0


def test_repeated_state_parameter_is_rejected(alice, google):
    state = start_flow(alice)["state"]

    response = alice.get(f"/google/accounts/connect?state={state}&state={state}&code=x")

    assert_failed(response, "invalid_state")
    assert len(google.mock.calls) == 0


def test_expired_state_is_rejected(alice, google, settings):
    state = start_flow(alice)["state"]
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "STATE_MAX_AGE": 1}
    session = alice.session
    session["google_connect_flows"][0]["created_at"] -= 5
    session.save()

    assert_failed(finish_flow(alice, state), "invalid_state")
    assert len(google.mock.calls) == 0


def test_state_from_another_session_is_rejected(client, user, google, django_user_model):
    victim = django_user_model.objects.create_user("victim")
    from django.test import Client

    attacker_client = Client()
    attacker_client.force_login(user)
    state = start_flow(attacker_client)["state"]
    client.force_login(victim)

    response = finish_flow(client, state)

    assert_failed(response, "invalid_state")
    assert len(google.mock.calls) == 0
    assert GoogleAccount.objects.count() == 0


def test_state_started_by_another_user_in_the_same_session_is_rejected(alice, other_user, google):
    state = start_flow(alice)["state"]
    # Simulate a session that survived a change of user without being flushed.
    session = alice.session
    session["google_connect_flows"][0]["user_id"] = str(other_user.pk)
    session.save()

    assert_failed(finish_flow(alice, state), "invalid_state")
    assert len(google.mock.calls) == 0


def test_anonymous_callback_is_rejected(client, google):
    assert_failed(finish_flow(client, "whatever"), "invalid_state")
    assert len(google.mock.calls) == 0


def test_access_denied_fails_without_calling_google(alice, google):
    state = start_flow(alice)["state"]

    response = alice.get("/google/accounts/connect", {"state": state, "error": "access_denied"})

    assert_failed(response, "access_denied")
    assert len(google.mock.calls) == 0


def test_error_with_a_code_still_fails_without_calling_google(alice, google):
    state = start_flow(alice)["state"]

    response = finish_flow(alice, state, error="access_denied")

    assert_failed(response, "access_denied")
    assert len(google.mock.calls) == 0


def test_missing_code_is_rejected(alice, google):
    state = start_flow(alice)["state"]

    response = alice.get("/google/accounts/connect", {"state": state})

    assert_failed(response, "invalid_request")
    assert len(google.mock.calls) == 0


def test_a_declined_required_scope_fails(alice, google):
    google.revoke()

    response = connect(alice, google, token=token_body(scope="openid email"))

    assert_failed(response, "scope_not_granted")
    assert GoogleAccount.objects.count() == 0


# -- a refused connect's grant: revoked only when no stored account holds it -------

DECLINED = "openid email"


def calls_made(google):
    """Each call to Google as (method, url, form or None)."""
    return [
        (
            call.request.method,
            call.request.url,
            parse_qs(call.request.body) if call.request.method == "POST" else None,
        )
        for call in google.mock.calls
    ]


def refused(alice, google, **token):
    google.revoke()
    response = connect(alice, google, token=token_body(scope=DECLINED, **token))
    assert_failed(response, "scope_not_granted")
    return calls_made(google)


def exchanged(google):
    return ("POST", google.config.TOKEN_URL, google.token_requests()[0])


def test_a_refused_first_connect_revokes_the_new_grant_named_by_its_id_token(alice, google):
    calls = refused(alice, google, id_token=id_token(sub=SUB))

    # The id_token names the Google account: no userinfo call.
    assert calls == [
        exchanged(google),
        ("POST", google.config.REVOKE_URL, {"token": [REFRESH_TOKEN]}),
    ]
    assert GoogleAccount.objects.count() == 0


def test_a_refused_first_connect_without_an_id_token_asks_userinfo_then_revokes(alice, google):
    calls = refused(alice, google, id_token=None)

    assert calls == [
        exchanged(google),
        ("GET", google.config.USERINFO_URL, None),
        ("POST", google.config.REVOKE_URL, {"token": [REFRESH_TOKEN]}),
    ]


def test_a_refused_first_connect_with_an_unusable_id_token_asks_userinfo(alice, google):
    # token_body's default id_token has no claims at all.
    calls = refused(alice, google)

    assert [(method, url) for method, url, _form in calls] == [
        ("POST", google.config.TOKEN_URL),
        ("GET", google.config.USERINFO_URL),
        ("POST", google.config.REVOKE_URL),
    ]


def test_an_id_token_that_came_without_tls_is_not_trusted_to_name_the_account(
    alice, google, settings
):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TOKEN_URL": "http://127.0.0.1:9/token"}

    calls = refused(alice, google, id_token=id_token(sub=SUB))

    assert [(method, url) for method, url, _form in calls] == [
        ("POST", "http://127.0.0.1:9/token"),
        ("GET", google.config.USERINFO_URL),
        ("POST", google.config.REVOKE_URL),
    ]


def test_a_refused_first_connect_without_a_refresh_token_revokes_the_access_token(alice, google):
    calls = refused(alice, google, id_token=id_token(sub=SUB), refresh_token=None)

    assert calls[-1] == ("POST", google.config.REVOKE_URL, {"token": [ACCESS_TOKEN]})


def test_a_refused_reconnect_leaves_the_working_grant_alone(alice, user, google):
    account = make_account(user=user, sub=SUB, refresh_token="1//STORED")

    calls = refused(alice, google, id_token=id_token(sub=SUB))

    assert calls == [exchanged(google)]
    assert GoogleAccount.objects.get().refresh_token == account.refresh_token


def test_a_refused_connect_of_another_users_google_account_revokes_nothing(
    alice, other_user, google
):
    make_account(user=other_user, sub=SUB)

    calls = refused(alice, google, id_token=None)

    assert calls == [exchanged(google), ("GET", google.config.USERINFO_URL, None)]
    assert GoogleAccount.objects.get().user == other_user


def test_a_refused_connect_whose_account_cannot_be_named_revokes_nothing(alice, google, caplog):
    caplog.set_level(logging.WARNING)
    google.revoke()
    google.token(token_body(scope=DECLINED, id_token=None))
    google.userinfo(status=503)

    response = finish_flow(alice, start_flow(alice)["state"])

    assert_failed(response, "scope_not_granted")
    assert [url for _method, url, _form in calls_made(google)] == [
        google.config.TOKEN_URL,
        google.config.USERINFO_URL,
    ]
    assert "refused grant is not revoked" in caplog.text


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_grant", "error_description": "Bad Request"}),
        (401, {"error": "invalid_client"}),
        (500, {"error": "internal_failure"}),
        (503, None),
    ],
)
def test_token_endpoint_errors_fail(alice, google, status, body):
    google.token(body or {}, status=status)
    state = start_flow(alice)["state"]

    response = finish_flow(alice, state)

    # Issue 29: a refused code (invalid_grant) is the one exchange failure the
    # spec's "disconnect Google completely then retry" fixes.
    refused = (body or {}).get("error") == "invalid_grant"
    assert_failed(response, "token_exchange_failed", disconnect_advice=refused)
    assert GoogleAccount.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in": 3599, "token_type": "Bearer", "refresh_token": "x"},  # no access_token
        token_body(token_type="mac"),
        token_body(expires_in="3599"),
        token_body(expires_in=-1),
        token_body(expires_in=None),
        token_body(access_token="x" * 5000),
        token_body(access_token="ya29.with space"),
        token_body(access_token="ya29.line\nbreak"),
        token_body(refresh_token="1//tab\there"),
    ],
)
def test_unusable_token_responses_fail(alice, google, body):
    response = connect(alice, google, token=body)

    assert_failed(response, "token_exchange_failed")
    assert GoogleAccount.objects.count() == 0


def test_token_body_that_is_not_json_fails(alice, google):
    google.mock.post(google.config.TOKEN_URL, body="<html>oops</html>", status=200)
    state = start_flow(alice)["state"]

    assert_failed(finish_flow(alice, state), "token_exchange_failed")


def test_token_endpoint_unreachable_fails(alice, google):
    # Nothing registered: ``responses`` raises ConnectionError, as a refused connection would.
    state = start_flow(alice)["state"]

    assert_failed(finish_flow(alice, state), "token_exchange_failed")


def test_token_endpoint_timeout_fails(alice, google):
    import requests

    google.mock.post(google.config.TOKEN_URL, body=requests.exceptions.ReadTimeout("slow"))
    state = start_flow(alice)["state"]

    assert_failed(finish_flow(alice, state), "token_exchange_failed")


def test_every_call_to_google_has_the_configured_timeout(alice, google, settings, monkeypatch):
    import requests

    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TIMEOUT": 3}
    timeouts = []
    real_send = requests.Session.send

    def spy(self, request, **kwargs):
        timeouts.append(kwargs.get("timeout"))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", spy)
    google.revoke()
    connect(alice, google, token=token_body(refresh_token=None))

    assert timeouts == [3, 3, 3]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "invalid_request"}),
        (500, {}),
        (200, {"email": EMAIL}),  # no sub
        (200, userinfo_body(sub="")),
        (200, userinfo_body(name="x" * 300)),
        (200, userinfo_body(sub=12345)),
    ],
)
def test_userinfo_failures_fail(alice, google, status, body):
    google.token()
    google.userinfo(body, status=status)
    state = start_flow(alice)["state"]

    assert_failed(finish_flow(alice, state), "userinfo_failed")
    assert GoogleAccount.objects.count() == 0


def test_oversize_answer_is_refused(alice, google):
    google.token()
    google.userinfo(userinfo_body(name="x" * (1024 * 1024)))
    state = start_flow(alice)["state"]

    assert_failed(finish_flow(alice, state), "userinfo_failed")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_from_the_token_endpoint_is_not_followed(alice, google, status):
    google.mock.post(
        google.config.TOKEN_URL, status=status, headers={"Location": "https://elsewhere.example/"}
    )
    elsewhere = google.mock.post("https://elsewhere.example/", json=token_body())
    google.mock.get("https://elsewhere.example/", json=token_body())
    state = start_flow(alice)["state"]

    assert_failed(finish_flow(alice, state), "token_exchange_failed")
    # The form carries the client secret and the code: it goes nowhere else.
    assert elsewhere.call_count == 0
    assert len(google.mock.calls) == 1
    assert GoogleAccount.objects.count() == 0


def test_a_compressed_answer_is_read_decompressed(alice, google):
    body = gzip.compress(json.dumps(token_body()).encode())
    google.mock.post(
        google.config.TOKEN_URL,
        body=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    google.userinfo()

    assert finish_flow(alice, start_flow(alice)["state"]).status_code == 200
    assert GoogleAccount.objects.get().access_token == ACCESS_TOKEN


def test_an_answer_that_does_not_decompress_is_a_failed_exchange(alice, google):
    google.mock.post(
        google.config.TOKEN_URL,
        body=b"not gzip at all",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    state = start_flow(alice)["state"]

    assert_failed(finish_flow(alice, state), "token_exchange_failed")
    assert GoogleAccount.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_second_user_cannot_take_a_connected_google_account(
    alice, google, client, other_user, signals
):
    connect(alice, google)
    original = GoogleAccount.objects.values().get()
    google.mock.reset()
    client.force_login(other_user)

    response = connect(
        client, google, token=token_body(access_token="ya29.BOB", refresh_token="1//BOB")
    )

    assert_failed(response, "account_linked_to_another_user")
    assert GoogleAccount.objects.values().get() == original
    assert len(signals) == 1
    assert not any(c.request.url == google.config.REVOKE_URL for c in google.mock.calls)


def test_a_user_may_connect_several_google_accounts(alice, google, user):
    connect(alice, google)
    google.mock.reset()
    connect(alice, google, userinfo=userinfo_body(sub="222", email="work@example.com"))

    assert sorted(user.google_accounts.values_list("email", flat=True)) == [
        EMAIL,
        "work@example.com",
    ]


def test_failure_is_logged_without_secrets(alice, google, caplog):
    caplog.set_level(logging.DEBUG)

    connect(alice, google, token=token_body(scope="openid"))

    assert "reason=scope_not_granted" in caplog.text
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, AUTH_CODE, "TEST-CLIENT-SECRET"):
        assert secret not in caplog.text


def test_code_is_blanked_out_of_the_request_after_use(alice, google):
    response = connect(alice, google)

    request = response.wsgi_request
    # AUTH_CODE holds a "/", percent-encoded in a query string: look at the
    # decoded values, or a code never blanked would pass unseen.
    assert "/" in AUTH_CODE
    assert request.GET.getlist("code") == [REDACTED]
    assert parse_qs(request.META["QUERY_STRING"])["code"] == [REDACTED]
    assert AUTH_CODE not in unquote(request.META["QUERY_STRING"])
    assert AUTH_CODE not in unquote(request.get_full_path())
