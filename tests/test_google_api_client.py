"""account.credentials() with google-api-python-client, against a stand-in
Calendar API on 127.0.0.1 (issue 11, item 7)."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import ThreadingHTTPServer

import pytest
from django.utils import timezone
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.stub_google import JSONHandler

pytestmark = pytest.mark.django_db

NEW_TOKEN = {"access_token": "ya29.AFTER-401", "expires_in": 3599, "token_type": "Bearer"}


class StandInCalendar:
    """Answers calendarList.list for the tokens in ``accepted``, 401 otherwise."""

    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.seen: list[str] = []
        stand_in = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                stand_in.seen.append(token)
                if token in stand_in.accepted:
                    status, body = 200, {"kind": "calendar#calendarList", "items": []}
                else:
                    status, body = 401, {"error": {"code": 401, "message": "Invalid Credentials"}}
                self.send_json(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/calendar/v3/"


@pytest.fixture
def calendar_api():
    stand_in = StandInCalendar()
    stand_in.thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def list_calendars(account, calendar_api):
    service = build(
        "calendar",
        "v3",
        credentials=account.credentials(),
        static_discovery=True,
        client_options={"api_endpoint": calendar_api.endpoint},
        cache_discovery=False,
    )
    return service.calendarList().list().execute()


def test_a_valid_token_is_used_as_it_is(google, calendar_api):
    account = make_account(access_token="ya29.VALID")
    calendar_api.accepted.add("ya29.VALID")

    assert list_calendars(account, calendar_api)["items"] == []
    assert calendar_api.seen == ["ya29.VALID"]
    assert len(google.mock.calls) == 0


def test_an_expired_token_is_refreshed_once_and_stored(google, calendar_api):
    account = make_account(expires_at=timezone.now() - timedelta(minutes=1))
    google.token(NEW_TOKEN)
    calendar_api.accepted.add("ya29.AFTER-401")

    list_calendars(account, calendar_api)

    assert len(google.token_requests()) == 1
    assert calendar_api.seen == ["ya29.AFTER-401"]
    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.AFTER-401"


def test_a_401_for_an_unexpired_token_refreshes_once_and_stores(google, calendar_api):
    account = make_account(
        access_token="ya29.REVOKED-AT-GOOGLE", expires_at=timezone.now() + timedelta(hours=1)
    )
    google.token(NEW_TOKEN)
    calendar_api.accepted.add("ya29.AFTER-401")

    assert list_calendars(account, calendar_api)["items"] == []

    assert calendar_api.seen == ["ya29.REVOKED-AT-GOOGLE", "ya29.AFTER-401"]
    assert len(google.token_requests()) == 1
    assert GoogleAccount.objects.get(pk=account.pk).access_token == "ya29.AFTER-401"


def test_a_token_another_caller_already_replaced_is_picked_up_without_a_refresh(
    google, calendar_api
):
    account = make_account(
        access_token="ya29.REVOKED-AT-GOOGLE", expires_at=timezone.now() + timedelta(hours=1)
    )
    # Another process refreshed meanwhile; this instance still holds the old token.
    GoogleAccount.objects.filter(pk=account.pk).update(access_token="ya29.FROM-ELSEWHERE")
    calendar_api.accepted.add("ya29.FROM-ELSEWHERE")

    list_calendars(account, calendar_api)

    assert calendar_api.seen == ["ya29.REVOKED-AT-GOOGLE", "ya29.FROM-ELSEWHERE"]
    assert len(google.mock.calls) == 0


def test_a_token_rejected_after_the_refresh_too_is_an_error(google, calendar_api):
    account = make_account(access_token="ya29.REVOKED-AT-GOOGLE")
    google.token(NEW_TOKEN)

    with pytest.raises(HttpError) as raised:
        list_calendars(account, calendar_api)

    assert raised.value.resp.status == 401
