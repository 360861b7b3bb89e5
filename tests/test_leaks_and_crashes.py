"""Smaller leaks and crashes (issue 11, item 6)."""

import sys

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
from django.views.debug import ExceptionReporter

from google_connect.models import GoogleAccount
from google_connect.web import flow
from tests.factories import make_account
from tests.support import AUTH_CODE, start_flow

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_backoff")]

CHANGELIST = "/admin/google_connect/googleaccount/"


def report_of(request):
    return ExceptionReporter(request, *sys.exc_info()).get_traceback_html()


def test_consume_hides_state_and_verifier_from_error_reports(user):
    request = RequestFactory().get("/google/accounts/connect")
    request.session = SessionStore()
    request.user = user
    pending = flow.begin(request, redirect_uri="http://testserver/cb", next_url=None)

    def broken_user():
        raise RuntimeError("the user could not be loaded")

    request.user = SimpleLazyObject(broken_user)
    try:
        flow.consume(request, pending.state)
    except RuntimeError:
        report = report_of(request)
    assert "the user could not be loaded" in report
    assert pending.state not in report
    assert pending.code_verifier not in report


def test_begin_hides_state_and_verifier_from_error_reports(user):
    class BrokenSession(SessionStore):
        def __setitem__(self, key, value):
            raise RuntimeError("the session could not be written")

    request = RequestFactory().get("/google/accounts/authorize")
    request.session = BrokenSession()
    request.user = user
    captured = []
    original = flow.PendingFlow.__init__

    def spy(self, **kwargs):
        original(self, **kwargs)
        captured.append(self)

    try:
        flow.PendingFlow.__init__ = spy
        flow.begin(request, redirect_uri="http://testserver/cb", next_url=None)
    except RuntimeError:
        report = report_of(request)
    finally:
        flow.PendingFlow.__init__ = original
    [pending] = captured
    assert "the session could not be written" in report
    assert pending.state not in report
    assert pending.code_verifier not in report


def test_asgi_scope_query_string_is_scrubbed(async_client, user, google):
    async_client.force_login(user)
    google.token()
    google.userinfo()
    authorize = async_to_sync(async_client.get)("/google/accounts/authorize")
    state = authorize["Location"].split("state=")[1].split("&")[0]

    response = async_to_sync(async_client.get)(
        "/google/accounts/connect", {"state": state, "code": AUTH_CODE}
    )

    assert response.status_code == 200
    scope = response.asgi_request.scope
    assert b"CODE" not in scope["query_string"]
    assert b"code=%2A%2A" in scope["query_string"] or b"code=**" in scope["query_string"]


@pytest.mark.parametrize("valid_state", [True, False])
def test_a_charset_that_cannot_encode_the_query_is_no_500(alice, google, valid_state):
    google.token()
    google.userinfo()
    state = start_flow(alice)["state"] if valid_state else "unknown"

    response = alice.get(
        "/google/accounts/connect",
        {"state": state, "code": AUTH_CODE, "hl": "français"},
        CONTENT_TYPE="text/plain; charset=ascii",
    )

    assert response.status_code == (200 if valid_state else 400)
    assert "CODE" not in response.wsgi_request.META["QUERY_STRING"]


@pytest.mark.parametrize("keys", ["tests-fernet-key-one", b"key", [], ["ok", 3]])
def test_fernet_keys_that_are_not_a_list_of_strings_are_refused_at_first_use(settings, keys):
    account = make_account()
    settings.FERNET_KEYS = keys

    refused = pytest.raises(ImproperlyConfigured, match="FERNET_KEYS must be a non-empty list")
    with refused, transaction.atomic():
        make_account(user=account.user)
    with pytest.raises(ImproperlyConfigured):
        GoogleAccount.objects.get(pk=account.pk)


def test_revoke_and_remove_writes_a_deletion_log_entry_per_account(admin_client, google):
    accounts = [make_account(email=f"gone{n}@example.com") for n in range(2)]
    google.revoke()

    admin_client.post(
        CHANGELIST,
        {"action": "revoke_and_remove", "_selected_action": [a.pk for a in accounts]},
    )

    entries = LogEntry.objects.order_by("object_id")
    assert [(e.action_flag, e.object_id, e.object_repr) for e in entries] == [
        (DELETION, str(a.pk), a.email) for a in accounts
    ]


def test_refresh_action_writes_a_change_log_entry(admin_client, google):
    account = make_account(email="fresh@example.com")
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})

    admin_client.post(
        CHANGELIST, {"action": "refresh_access_token", "_selected_action": [account.pk]}
    )

    [entry] = LogEntry.objects.all()
    assert (entry.action_flag, entry.object_id) == (CHANGE, str(account.pk))
    assert "ya29" not in entry.change_message
