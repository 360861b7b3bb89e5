"""Tests that kill mutants which survived the suite (issue 11, item 9).

Each one fails on a small, plausible change of the code: the comment above
it names the change.
"""

import time
from datetime import timedelta

import pytest
from django.db.models.sql.compiler import SQLCompiler
from django.test import RequestFactory
from django.utils import timezone

from google_connect.google.answers import parse_userinfo
from google_connect.models import GoogleAccount
from google_connect.web import flow
from google_connect.web.views import safe_next_url
from tests.factories import make_account
from tests.support import finish_flow, start_flow, userinfo_body

pytestmark = pytest.mark.django_db


# Mutant: _store_refreshed() sets scopes from a refresh answer without scope.
def test_a_refresh_answer_without_scope_leaves_the_stored_scopes(google):
    account = make_account(
        scopes="openid https://www.googleapis.com/auth/calendar",
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    google.token({"access_token": "ya29.NO-SCOPE", "expires_in": 3599, "token_type": "Bearer"})

    account.get_access_token()

    stored = GoogleAccount.objects.get(pk=account.pk)
    assert stored.access_token == "ya29.NO-SCOPE"
    assert stored.scopes == "openid https://www.googleapis.com/auth/calendar"


# Mutant: email_verified = bool(claim), which takes the string "false" as true.
@pytest.mark.parametrize(
    ("claim", "verified"),
    [(True, True), ("true", True), (False, False), ("false", False), ("False", False), (1, False)],
)
def test_email_verified_is_true_only_for_true_or_the_string_true(claim, verified):
    assert parse_userinfo(userinfo_body(email_verified=claim)).email_verified is verified


# Mutant: require_https dropped from safe_next_url().
def test_a_plain_http_next_is_refused_on_a_secure_request():
    secure = RequestFactory().get("/", secure=True)
    plain = RequestFactory().get("/")

    assert safe_next_url(secure, "http://testserver/x") is None
    assert safe_next_url(secure, "https://testserver/x") == "https://testserver/x"
    assert safe_next_url(plain, "http://testserver/x") == "http://testserver/x"


# Mutant: the state compared case-insensitively.
def test_a_state_differing_only_in_letter_case_is_refused(alice, google):
    google.token()
    google.userinfo()
    state = start_flow(alice)["state"]
    swapped = state.swapcase()
    assert swapped != state

    response = finish_flow(alice, swapped)

    assert response.status_code == 400
    assert response.context["reason"] == "invalid_state"
    assert len(google.mock.calls) == 0
    # The real state is still pending: the wrong-case one consumed nothing.
    assert finish_flow(alice, state).status_code == 200


# Mutant: begin() keeps every stored flow instead of the live ones.
def test_expired_pending_flows_are_pruned_when_a_new_flow_starts(alice, settings):
    start_flow(alice)
    session = alice.session
    stale = session[flow.SESSION_KEY]
    stale[0]["created_at"] = time.time() - settings.GOOGLE_CONNECT.get("STATE_MAX_AGE", 600) - 1
    session[flow.SESSION_KEY] = stale
    session.save()

    new_state = start_flow(alice)["state"]

    assert [entry["state"] for entry in alice.session[flow.SESSION_KEY]] == [new_state]


# Mutant: select_for_update() dropped from the refresh's read of the row.
# SQLite ignores FOR UPDATE, so the check looks at the query itself.
def test_the_refresh_reads_its_row_for_update_on_every_backend(google, monkeypatch):
    account = make_account(expires_at=timezone.now() - timedelta(minutes=1))
    reads = []
    original = SQLCompiler.execute_sql

    def spy(self, *args, **kwargs):
        if self.query.model is GoogleAccount:
            reads.append(self.query.select_for_update)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "execute_sql", spy)
    google.token({"access_token": "ya29.LOCKED", "expires_in": 3599, "token_type": "Bearer"})

    account.get_access_token()

    assert reads[0] is True
