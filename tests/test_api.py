"""The JSON API (``google_connect/web/api``): every endpoint, every error, both kinds of caller."""

import json
import logging
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.checks import run_checks
from django.http import JsonResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from jsonschema import Draft202012Validator, ValidationError

from google_connect.models import GoogleAccount
from google_connect.signals import google_account_connected
from google_connect.testing import (
    ACCESS_TOKEN,
    AUTH_CODE,
    REFRESH_TOKEN,
    SUB,
    make_account,
    start_flow,
)
from google_connect.web.api import representation
from google_connect.web.api import schema as api_schema
from tests.support import finish_flow, recording, token_body
from tests.test_id_token import id_token

pytestmark = pytest.mark.django_db

API = "/google/api/v1"
CLIENT_ID = "test-client-id.apps.googleusercontent.com"
IOS_ID = "ios-id.apps.googleusercontent.com"
ANDROID_ID = "android-id.apps.googleusercontent.com"
TOKEN_AUTH = ["tests.api_auth.token_user"]
POPUP_HEADER = {"HTTP_X_REQUESTED_WITH": "XmlHttpRequest"}
HELP_URL = "https://myaccount.google.com/permissions"


@pytest.fixture(scope="module")
def document():
    return api_schema.document(RequestFactory().get(API + "/openapi.json"))


def operation_of(document, path, method):
    """The document's operation for a request's path and method, None when it has none."""
    relative = path.removeprefix(API)
    for template, item in document["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, relative):
            return item.get(method.lower())
    return None


def check_against_document(document, response):
    """A documented operation's answer: its status documented, its body the schema's."""
    operation = operation_of(
        document, response.request["PATH_INFO"], response.request["REQUEST_METHOD"]
    )
    if operation is None:
        return
    status = str(response.status_code)
    assert status in operation["responses"], f"{status} is not documented for {operation}"
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    # The components beside the schema, so that its $refs resolve.
    Draft202012Validator({**schema, "components": document["components"]}).validate(
        json.loads(response.content)
    )


@pytest.fixture(autouse=True)
def answers_keep_to_the_document(monkeypatch, document):
    """Every answer of these tests to a documented operation is checked against the
    document: the unit tests see bodies (a disconnect's 200, a connect's 201) that a
    schemathesis run may never reach."""
    request = Client.request

    def checked(self, **environ):
        response = request(self, **environ)
        check_against_document(document, response)
        return response

    monkeypatch.setattr(Client, "request", checked)


def post(client, path, body=None, **extra):
    data = json.dumps(body) if body is not None else ""
    return client.post(API + path, data, content_type="application/json", **extra)


def popup(client, body=None, **extra):
    return post(
        client, "/code", body or {"code": AUTH_CODE, "flow": "popup"}, **POPUP_HEADER, **extra
    )


def error_of(response):
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.fixture
def token_auth(settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "API_AUTHENTICATION": TOKEN_AUTH}


@pytest.fixture
def mobile_clients(settings):
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "USE_ID_TOKEN": True,
        "CLIENTS": {
            "ios": {"CLIENT_ID": IOS_ID, "TYPE": "ios"},
            "android": {"CLIENT_ID": ANDROID_ID, "TYPE": "android"},
        },
    }


@pytest.fixture
def calendar(settings):
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "SCOPE_SETS": {"calendar": ["https://www.googleapis.com/auth/calendar.readonly"]},
    }


# -- GET accounts -------------------------------------------------------------------


def test_accounts_lists_the_users_own_accounts_newest_first(alice, user, other_user):
    older = make_account(user, email="old@example.com", name="Old", client_id=CLIENT_ID)
    newer = make_account(user, email="new@example.com", picture="https://example.com/p.png")
    make_account(other_user)
    GoogleAccount.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))

    response = alice.get(API + "/accounts")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "accounts": [
            {
                "id": newer.pk,
                "email": "new@example.com",
                "name": "",
                "picture": "https://example.com/p.png",
                "status": "active",
                "reconnect_reason": None,
                "scope_sets": {"granted": [], "missing": []},
                "grant_expires_at": None,
                "client": "default",
            },
            {
                "id": older.pk,
                "email": "old@example.com",
                "name": "Old",
                "picture": "",
                "status": "active",
                "reconnect_reason": None,
                "scope_sets": {"granted": [], "missing": []},
                "grant_expires_at": None,
                "client": "default",
            },
        ]
    }


def test_accounts_show_the_reconnect_reason_in_words(alice, user):
    make_account(user, status="reconnect_required", reconnect_reason="revoked")

    [account] = alice.get(API + "/accounts").json()["accounts"]

    assert account["status"] == "reconnect_required"
    assert account["reconnect_reason"] == {"code": "revoked", "message": "Access was removed"}


def test_accounts_show_granted_and_missing_scope_sets(alice, user, calendar):
    make_account(user, scopes="openid https://www.googleapis.com/auth/calendar.readonly")
    make_account(user, scopes="openid")

    accounts = alice.get(API + "/accounts").json()["accounts"]

    assert [a["scope_sets"] for a in accounts] == [
        {"granted": [], "missing": ["calendar"]},
        {"granted": ["calendar"], "missing": []},
    ]


def test_accounts_show_the_time_limited_grants_end(alice, user):
    ends = timezone.now().replace(microsecond=0) + timedelta(days=3)
    make_account(user, refresh_token_expires_at=ends)

    [account] = alice.get(API + "/accounts").json()["accounts"]

    assert account["grant_expires_at"] == ends.isoformat()


def test_accounts_show_a_grant_whose_stored_end_passed_as_ended(alice, user):
    # Stored as active: no refresh has failed yet, but the grant's end date has passed.
    ended = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    make_account(user, status="active", refresh_token_expires_at=ended)

    [account] = alice.get(API + "/accounts").json()["accounts"]

    # As the accounts page and the admin show it (GoogleAccount.effective_status).
    assert account["status"] == "reconnect_required"
    assert account["reconnect_reason"] == {
        "code": "refresh_token_expired",
        "message": "Time-limited access ended",
    }
    assert account["grant_expires_at"] == ended.isoformat()


def test_accounts_need_a_signed_in_caller(client):
    response = client.get(API + "/accounts")

    assert response.status_code == 401
    assert error_of(response) == {
        "error": "not_authenticated",
        "message": "Sign in to this site first.",
    }


def test_post_to_accounts_is_405_with_allow(alice):
    response = post(alice, "/accounts", {})

    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert error_of(response)["error"] == "method_not_allowed"


# -- POST accounts/<id>/disconnect ------------------------------------------------------


def test_disconnect_revokes_at_google_then_deletes(alice, user, google):
    account = make_account(user)
    revoke = google.revoke()

    response = post(alice, f"/accounts/{account.pk}/disconnect")

    assert response.status_code == 200
    assert response.json() == {"id": account.pk, "disconnected": True, "revoked_at_google": True}
    assert revoke.call_count == 1
    assert not GoogleAccount.objects.filter(pk=account.pk).exists()


def test_disconnect_of_a_grant_google_had_ended_already_says_it_is_revoked(alice, user, google):
    account = make_account(user)
    google.revoke(status=400, body={"error": "invalid_token"})

    response = post(alice, f"/accounts/{account.pk}/disconnect")

    assert response.json() == {"id": account.pk, "disconnected": True, "revoked_at_google": True}


def test_disconnect_that_could_not_tell_google_says_so(alice, user, google, settings):
    # Encrypted with a key since removed: no configured key reads the tokens.
    settings.FERNET_KEYS = ["a-key-since-removed"]
    account = make_account(user, email="lost@example.com")
    settings.FERNET_KEYS = ["tests-fernet-key-one"]

    response = post(alice, f"/accounts/{account.pk}/disconnect")

    assert response.status_code == 200
    assert response.json() == {
        "id": account.pk,
        "disconnected": True,
        "revoked_at_google": False,
        # The accounts page's words for the same disconnect.
        "message": "lost@example.com is disconnected. Its stored access could not be read, so "
        "Google was not told: remove this site's access in your Google Account too.",
    }
    assert len(google.mock.calls) == 0
    assert not GoogleAccount.objects.exists()


def test_disconnect_of_another_users_account_is_404(alice, other_user, google):
    account = make_account(other_user)

    response = post(alice, f"/accounts/{account.pk}/disconnect")

    assert response.status_code == 404
    assert error_of(response) == {"error": "not_found", "message": "No such Google account."}
    assert GoogleAccount.objects.filter(pk=account.pk).exists()


@pytest.mark.parametrize("pk", ["abc", "1e3", "9" * 19, "٣"])
def test_disconnect_of_an_id_that_is_no_number_is_a_json_404(alice, pk):
    response = post(alice, f"/accounts/{pk}/disconnect")

    assert response.status_code == 404
    assert error_of(response)["error"] == "not_found"


def test_disconnect_that_cannot_reach_google_is_503_and_keeps_the_account(
    alice, user, google, no_backoff
):
    account = make_account(user, email="ada@example.com")
    google.mock.post(google.config.REVOKE_URL, body=requests.ConnectionError("down"))

    response = post(alice, f"/accounts/{account.pk}/disconnect")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert error_of(response) == {
        "error": "google_unavailable",
        "message": "Google could not be reached, so ada@example.com is still connected. "
        "Please try again in a few minutes.",
    }
    assert GoogleAccount.objects.filter(pk=account.pk).exists()


# -- POST authorize ---------------------------------------------------------------------


def test_authorize_returns_googles_url_and_the_callback_goes_to_next(alice, google, calendar):
    response = post(alice, "/authorize", {"scope_sets": ["calendar"], "next": "/spa/"})

    assert response.status_code == 200
    url = response.json()["authorization_url"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert query["scope"] == [
        "openid https://www.googleapis.com/auth/userinfo.email "
        "https://www.googleapis.com/auth/userinfo.profile "
        "https://www.googleapis.com/auth/calendar.readonly"
    ]
    assert query["redirect_uri"] == ["http://testserver/google/accounts/connect"]
    google.token(token_body(scope=query["scope"][0]))
    google.userinfo()
    callback = finish_flow(alice, query["state"][0])
    assert callback.status_code == 302
    assert callback["Location"] == "/spa/"


def test_authorize_drops_a_next_on_another_site(alice, google):
    response = post(alice, "/authorize", {"next": "https://evil.example/"})
    state = parse_qs(urlsplit(response.json()["authorization_url"]).query)["state"][0]
    google.token()
    google.userinfo()

    callback = finish_flow(alice, state)

    assert callback.status_code == 200


def test_authorize_with_an_unknown_scope_set_is_400(alice):
    response = post(alice, "/authorize", {"scope_sets": ["nope"]})

    assert response.status_code == 400
    assert error_of(response)["error"] == "unknown_scope_set"


def test_authorize_needs_the_session(client, user, token_auth):
    response = post(client, "/authorize", {}, HTTP_AUTHORIZATION="Token alice")

    assert response.status_code == 400
    assert error_of(response) == {
        "error": "session_required",
        "message": "Connecting by redirect needs a signed-in browser session: "
        "the callback checks it.",
    }


# -- POST code --------------------------------------------------------------------------


def test_popup_code_is_exchanged_with_postmessage_and_no_verifier(
    alice, user, google, django_capture_on_commit_callbacks
):
    google.token()
    google.userinfo()

    with (
        recording(google_account_connected) as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = popup(alice)

    assert response.status_code == 201
    account = GoogleAccount.objects.get()
    assert (account.user, account.sub, account.refresh_token) == (user, SUB, REFRESH_TOKEN)
    assert response.json()["id"] == account.pk
    assert response.json()["email"] == "john.doe@example.com"
    [form] = google.token_requests()
    assert form == {
        "code": [AUTH_CODE],
        "client_id": [CLIENT_ID],
        "client_secret": ["TEST-CLIENT-SECRET-do-not-leak"],
        "redirect_uri": ["postmessage"],
        "grant_type": ["authorization_code"],
    }
    assert [(s["account"], s["created"]) for s in sent] == [(account, True)]


def test_popup_code_needs_the_custom_header(alice, google):
    response = post(alice, "/code", {"code": AUTH_CODE, "flow": "popup"})

    assert response.status_code == 403
    assert error_of(response)["error"] == "custom_header_required"
    assert len(google.mock.calls) == 0


def test_popup_code_needs_the_custom_header_whatever_the_authentication(
    client, user, google, token_auth
):
    response = post(
        client, "/code", {"code": AUTH_CODE, "flow": "popup"}, HTTP_AUTHORIZATION="Token alice"
    )

    assert response.status_code == 403
    assert error_of(response)["error"] == "custom_header_required"


def test_mobile_code_is_exchanged_with_a_present_empty_redirect_uri(alice, google):
    google.token()
    google.userinfo()

    response = post(alice, "/code", {"code": AUTH_CODE, "flow": "mobile"})

    assert response.status_code == 201
    [call] = [c for c in google.mock.calls if c.request.url == google.config.TOKEN_URL]
    form = parse_qs(call.request.body, keep_blank_values=True)
    assert form["redirect_uri"] == [""]
    assert "code_verifier" not in form


def test_mobile_id_token_may_name_an_ios_client_as_azp(alice, user, google, mobile_clients):
    google.token(token_body(id_token=id_token(aud=CLIENT_ID, azp=IOS_ID)))

    response = post(alice, "/code", {"code": AUTH_CODE, "flow": "mobile"})

    assert response.status_code == 201
    account = GoogleAccount.objects.get()
    # The grant belongs to the web client that exchanged the code.
    assert (account.sub, account.client_id) == ("200000000000000000001", CLIENT_ID)


def test_mobile_id_token_may_name_an_android_client_as_azp(alice, google, mobile_clients):
    google.token(token_body(id_token=id_token(aud=CLIENT_ID, azp=ANDROID_ID)))

    response = post(alice, "/code", {"code": AUTH_CODE, "flow": "mobile"})

    assert response.status_code == 201


def test_mobile_id_token_for_the_ios_client_as_aud_is_refused(alice, google, mobile_clients):
    google.token(token_body(id_token=id_token(aud=IOS_ID, azp=IOS_ID)))

    response = post(alice, "/code", {"code": AUTH_CODE, "flow": "mobile"})

    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_id_token"
    assert not GoogleAccount.objects.exists()


def test_popup_id_token_naming_a_mobile_client_as_azp_is_refused(alice, google, mobile_clients):
    google.token(token_body(id_token=id_token(aud=CLIENT_ID, azp=IOS_ID)))

    response = popup(alice)

    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_id_token"


def test_mobile_id_token_naming_an_unknown_azp_is_refused(alice, google, mobile_clients):
    google.token(token_body(id_token=id_token(aud=CLIENT_ID, azp="other.apps.example")))

    response = post(alice, "/code", {"code": AUTH_CODE, "flow": "mobile"})

    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_id_token"


def test_a_reconnect_answers_200(alice, user, google):
    make_account(user, sub=SUB)
    google.token()
    google.userinfo()

    response = popup(alice)

    assert response.status_code == 200
    assert GoogleAccount.objects.get().access_token == ACCESS_TOKEN


def test_a_code_with_scope_sets_reports_the_missing_ones(alice, google, calendar):
    google.token()
    google.userinfo()

    response = popup(alice, {"code": AUTH_CODE, "flow": "popup", "scope_sets": ["calendar"]})

    assert response.status_code == 201
    assert response.json()["scope_sets"] == {"granted": [], "missing": ["calendar"]}


def test_an_unticked_required_scope_is_400_and_the_grant_revoked(alice, google):
    google.token(token_body(scope="openid"))
    google.userinfo()
    revoke = google.revoke()

    response = popup(alice)

    assert response.status_code == 400
    assert error_of(response) == {
        "error": "scope_not_granted",
        # The error page's words: its sentences, its list, the spec's sentence.
        "message": "Some permissions were not granted. This site needs every permission it "
        "asked for, and Google's screen lets you untick some. Connect again and leave these "
        "ticked: See your primary Google Account email address; See your personal info, "
        "including any personal info you've made publicly available. Something went wrong; "
        "to fix this please disconnect Google completely then retry.",
        "help_url": HELP_URL,
        "missing_scopes": [
            "https://www.googleapis.com/auth/userinfo.email",
            "https://www.googleapis.com/auth/userinfo.profile",
        ],
        "missing_permissions": [
            {
                "scope": "https://www.googleapis.com/auth/userinfo.email",
                "description": "See your primary Google Account email address",
            },
            {
                "scope": "https://www.googleapis.com/auth/userinfo.profile",
                "description": "See your personal info, including any personal info you've "
                "made publicly available",
            },
        ],
    }
    assert revoke.call_count == 1
    assert not GoogleAccount.objects.exists()


def test_a_missing_refresh_token_is_400_and_the_grant_revoked(alice, google):
    google.token(token_body(refresh_token=None))
    google.userinfo()
    revoke = google.revoke()

    response = popup(alice)

    assert response.status_code == 400
    assert error_of(response) == {
        "error": "missing_refresh_token",
        "message": "Google did not grant lasting access. Something went wrong; to fix this "
        "please disconnect Google completely then retry.",
        "help_url": HELP_URL,
    }
    assert revoke.call_count == 1


def test_a_google_account_of_another_user_is_409(alice, other_user, google):
    make_account(other_user, sub=SUB)
    google.token()
    google.userinfo()

    response = popup(alice)

    assert response.status_code == 409
    assert error_of(response)["error"] == "account_linked_to_another_user"
    assert GoogleAccount.objects.get().user == other_user


def test_a_refused_code_is_400_token_exchange_failed(alice, google):
    google.token({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)

    response = popup(alice)

    assert response.status_code == 400
    assert error_of(response) == {
        "error": "token_exchange_failed",
        # invalid_grant: the error page's text for it, the spec's sentence and its guide
        # (disconnecting is the fix).
        "message": "Google did not confirm the connection. Google refused to finish "
        "connecting, so nothing was stored. Something went wrong; to fix this please "
        "disconnect Google completely then retry.",
        "help_url": HELP_URL,
    }


def test_google_unavailable_is_503_with_retry_after(alice, google, no_backoff):
    google.token({"error": "backend_error"}, status=503, headers={"Retry-After": "7"})

    response = popup(alice)

    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert error_of(response)["error"] in {"token_exchange_failed", "google_unavailable"}


def test_require_issuer_does_not_apply_to_codes(alice, google, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "REQUIRE_ISSUER": True}
    google.token()
    google.userinfo()

    response = popup(alice)

    assert response.status_code == 201


def _id_token_for_another_client(google, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "USE_ID_TOKEN": True}
    google.token(token_body(id_token=id_token(aud="other.apps.googleusercontent.com")))


def _google_down(google, settings):
    google.token({"error": "backend_error"}, status=503)


def _code_refused(google, settings):
    google.token({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)


def _scope_unticked(google, settings):
    google.token(token_body(scope="openid"))
    google.userinfo()
    google.revoke()


def _no_refresh_token(google, settings):
    google.token(token_body(refresh_token=None))
    google.userinfo()
    google.revoke()


# How Google answers (None: it is not called), the scope sets asked for, the reason,
# the API's status, and whether the error page shows the guide.
PAGE_CASES = [
    pytest.param(_id_token_for_another_client, [], "invalid_id_token", 400, False, id="id"),
    pytest.param(None, ["nope"], "unknown_scope_set", 400, False, id="unknown-set"),
    pytest.param(_google_down, [], "token_exchange_failed", 503, False, id="down"),
    pytest.param(_code_refused, [], "token_exchange_failed", 400, True, id="invalid_grant"),
    pytest.param(_scope_unticked, [], "scope_not_granted", 400, True, id="unticked"),
    pytest.param(_no_refresh_token, [], "missing_refresh_token", 400, True, id="no-refresh"),
]


def page_and_api_answer(alice, google, settings, answer, scope_sets):
    """The error page and the API's answer for the same failure."""
    if answer is not None:
        answer(google, settings)
    if scope_sets:
        page = alice.get("/google/accounts/authorize", {"scopes": ",".join(scope_sets)})
    else:
        page = finish_flow(alice, start_flow(alice)["state"])
    response = popup(alice, {"code": AUTH_CODE, "flow": "popup", "scope_sets": scope_sets})
    return page, response


def visible_text(page):
    html = page.content.decode()
    error = html[html.index('class="google-connect-error"') :]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", error)).split())


@pytest.mark.parametrize(("answer", "scope_sets", "reason", "status", "guide"), PAGE_CASES)
def test_help_url_is_given_exactly_where_the_error_page_shows_the_guide(
    alice, google, settings, no_backoff, answer, scope_sets, reason, status, guide
):
    page, response = page_and_api_answer(alice, google, settings, answer, scope_sets)

    body = error_of(response)
    assert (response.status_code, body["error"]) == (status, reason)
    # The page answers a temporary failure 400 too; only the API says 503 with Retry-After.
    assert page.status_code == 400
    assert f'data-reason="{reason}"' in page.content.decode()
    assert ("google-connect-guide" in page.content.decode()) is guide
    assert body.get("help_url") == (HELP_URL if guide else None)


@pytest.mark.parametrize(("answer", "scope_sets", "reason", "status", "guide"), PAGE_CASES)
def test_the_message_is_the_error_pages_text(
    alice, google, settings, no_backoff, answer, scope_sets, reason, status, guide
):
    page, response = page_and_api_answer(alice, google, settings, answer, scope_sets)

    message = error_of(response)["message"]
    on_page = visible_text(page)
    # Sentence by sentence (and item by item of the permissions list), in the page's order.
    pieces = [p.rstrip(".:;") for p in re.split(r"(?<=[.:;])\s+", message)]
    assert len(pieces) > 1
    positions = [on_page.find(piece) for piece in pieces]
    assert -1 not in positions, (pieces, on_page)
    assert positions == sorted(positions)
    # The spec's sentence exactly where the page has it.
    spec = "Something went wrong; to fix this please disconnect Google completely then retry."
    assert (spec in message) is guide is (spec in on_page)


def test_a_failed_code_is_logged_without_the_code(alice, google, caplog):
    google.token({"error": "invalid_grant"}, status=400)

    with caplog.at_level(logging.DEBUG, logger="google_connect"):
        popup(alice)

    assert AUTH_CODE not in caplog.text
    assert "reason=token_exchange_failed" in caplog.text


# -- bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"flow": "popup"}, "code is required."),
        (
            {"code": "x" * 2049, "flow": "popup"},
            "code must be a non-empty string of at most 2048 characters.",
        ),
        (
            {"code": "", "flow": "popup"},
            "code must be a non-empty string of at most 2048 characters.",
        ),
        (
            {"code": 7, "flow": "popup"},
            "code must be a non-empty string of at most 2048 characters.",
        ),
        ({"code": "c", "flow": "redirect"}, "flow must be one of: popup, mobile."),
        ({"code": "c", "flow": "popup", "extra": 1}, "Unknown field: extra."),
        (
            {"code": "c", "flow": "popup", "scope_sets": "calendar"},
            "scope_sets must be a list of at most 20 strings.",
        ),
        ([], "The body must be a JSON object."),
    ],
)
def test_a_bad_body_is_400_saying_what_is_wrong(alice, google, body, message):
    response = post(alice, "/code", body, **POPUP_HEADER)

    assert response.status_code == 400
    assert error_of(response) == {"error": "invalid_body", "message": message}
    assert len(google.mock.calls) == 0


def test_malformed_json_is_400(alice):
    response = alice.post(API + "/code", b"{not json", content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["message"] == "The body is not valid JSON in UTF-8."


def test_deeply_nested_json_is_400(alice):
    response = alice.post(API + "/code", "[" * 10_000, content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["message"] == "The body is not valid JSON in UTF-8."


def test_a_body_over_16_kib_is_413(alice, google):
    body = {"code": "c", "flow": "popup", "scope_sets": ["x" * 100] * 200}

    response = post(alice, "/code", body, **POPUP_HEADER)

    assert response.status_code == 413
    assert error_of(response)["error"] == "body_too_large"


def test_a_form_body_is_415(alice):
    response = alice.post(API + "/code", {"code": "c", "flow": "popup"})

    assert response.status_code == 415
    assert error_of(response)["error"] == "unsupported_media_type"


# -- authentication and CSRF -------------------------------------------------------------


def test_a_session_caller_without_the_csrf_token_is_403(user, google):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    google.token()
    google.userinfo()

    response = popup(browser)

    assert response.status_code == 403
    assert error_of(response)["error"] == "csrf_failed"
    assert len(google.mock.calls) == 0


def test_a_session_caller_with_the_csrf_token_passes(user, google):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get(API + "/accounts")  # any page; the token below sets the cookie
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    browser.cookies["csrftoken"] = secret
    google.token()
    google.userinfo()

    response = popup(browser, HTTP_X_CSRFTOKEN=_mask_cipher_secret(secret))

    assert response.status_code == 201


def test_a_token_caller_needs_no_csrf_token(user, google, token_auth):
    browser = Client(enforce_csrf_checks=True)
    google.token()
    google.userinfo()

    response = popup(browser, HTTP_AUTHORIZATION="Token alice")

    assert response.status_code == 201
    assert GoogleAccount.objects.get().user == user


def test_a_token_caller_lists_only_their_accounts(client, user, other_user, token_auth):
    mine = make_account(user)
    make_account(other_user)

    response = client.get(API + "/accounts", HTTP_AUTHORIZATION="Token alice")

    assert [a["id"] for a in response.json()["accounts"]] == [mine.pk]


def test_the_session_is_not_consulted_unless_listed(alice, token_auth):
    response = alice.get(API + "/accounts")

    assert response.status_code == 401


def test_authenticators_are_tried_in_order(alice, user, other_user, settings):
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "API_AUTHENTICATION": [
            "tests.api_auth.nobody",
            "tests.api_auth.token_user",
            "google_connect.web.api.authentication.session_user",
        ],
    }
    theirs = make_account(other_user)

    response = alice.get(API + "/accounts", HTTP_AUTHORIZATION="Token bob")

    assert [a["id"] for a in response.json()["accounts"]] == [theirs.pk]


# -- paths that are no endpoint ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/", "/nope", "", "/", "/accounts/1/2/disconnect"])
def test_a_path_under_the_api_that_is_no_endpoint_is_a_json_404(alice, path):
    response = alice.get(API + path)

    assert response.status_code == 404
    assert response["Cache-Control"] == "no-store"
    assert error_of(response) == {"error": "not_found", "message": "No such endpoint in this API."}


def test_an_unsafe_method_on_no_endpoint_is_a_json_404_not_a_csrf_page(user):
    # A session caller without the CSRF token: Django's middleware would answer HTML 403.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post(API + "/code/", "{}", content_type="application/json")

    assert response.status_code == 404
    assert error_of(response)["error"] == "not_found"


def test_no_endpoint_is_a_json_404_for_an_anonymous_caller_too(client):
    response = client.delete(API + "/nope")

    assert response.status_code == 404
    assert error_of(response)["error"] == "not_found"


# -- checks -----------------------------------------------------------------------------


def api_errors(settings, value):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "API_AUTHENTICATION": value}
    return [(e.id, e.msg) for e in run_checks() if e.id.startswith("google_connect.E10")]


def test_check_refuses_an_api_authentication_that_is_no_list(settings):
    assert api_errors(settings, "tests.api_auth.token_user") == [
        (
            "google_connect.E100",
            "GOOGLE_CONNECT['API_AUTHENTICATION'] must be a non-empty list of dotted paths.",
        )
    ]


def test_check_refuses_an_empty_api_authentication(settings):
    assert [i for i, _ in api_errors(settings, [])] == ["google_connect.E100"]


def test_check_refuses_a_path_that_cannot_be_imported(settings):
    assert api_errors(settings, ["tests.api_auth.missing"]) == [
        (
            "google_connect.E101",
            "GOOGLE_CONNECT['API_AUTHENTICATION'] names 'tests.api_auth.missing', "
            "which cannot be imported.",
        )
    ]


def test_check_refuses_a_path_that_is_not_callable(settings):
    assert api_errors(settings, ["tests.api_auth.NOT_CALLABLE"]) == [
        (
            "google_connect.E102",
            "GOOGLE_CONNECT['API_AUTHENTICATION'] names 'tests.api_auth.NOT_CALLABLE', "
            "which is not callable.",
        )
    ]


def test_check_accepts_the_default_and_other_callables(settings):
    value = ["tests.api_auth.token_user", "google_connect.web.api.authentication.session_user"]
    assert api_errors(settings, value) == []


# -- the answers against the document ---------------------------------------------------


def test_a_body_the_document_does_not_allow_is_caught(document):
    # A disconnect's answer without revoked_at_google, which the document requires.
    response = JsonResponse({"id": 1, "disconnected": True})
    response.request = {"PATH_INFO": API + "/accounts/1/disconnect", "REQUEST_METHOD": "POST"}

    with pytest.raises(ValidationError):
        check_against_document(document, response)


def test_a_status_the_document_does_not_list_is_caught(document):
    response = JsonResponse({"error": "x", "message": "y"}, status=418)
    response.request = {"PATH_INFO": API + "/accounts", "REQUEST_METHOD": "GET"}

    with pytest.raises(AssertionError, match="418 is not documented"):
        check_against_document(document, response)


def test_every_answer_of_these_tests_is_checked(alice, user, monkeypatch):
    make_account(user)
    monkeypatch.setattr(representation, "account", lambda row: {"id": str(row.pk)})

    with pytest.raises(ValidationError):
        alice.get(API + "/accounts")
