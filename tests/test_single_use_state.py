"""A state is accepted at most once, whatever the session backend (issue 11, item 4)."""

import copy
import hashlib
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from google_connect.conf import get_settings
from google_connect.exceptions import InvalidState
from google_connect.models import GoogleAccount
from google_connect.web import flow, used_state
from google_connect.web.used_state import UsedState, claim
from tests.support import finish_flow, start_flow

pytestmark = pytest.mark.django_db


def test_replaying_a_signed_cookie_session_is_refused(client, user, google, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client.force_login(user)
    google.token()
    google.userinfo()
    state = start_flow(client)["state"]
    # The cookie as it was before the callback, state and verifier inside.
    old_cookies = copy.deepcopy(client.cookies)

    assert finish_flow(client, state).status_code == 200
    client.cookies = old_cookies
    replay = finish_flow(client, state)

    assert replay.status_code == 400
    assert replay.context["reason"] == "invalid_state"
    assert len(google.token_requests()) == 1
    assert GoogleAccount.objects.count() == 1


def test_overlapping_callbacks_with_the_same_session_accept_the_state_once(user):
    """Two callbacks that both read the session before either wrote it back."""
    factory = RequestFactory()
    first = factory.get("/google/accounts/connect")
    first.session, first.user = SessionStore(), user
    pending = flow.begin(first, redirect_uri="http://testserver/cb", next_url=None)
    second = factory.get("/google/accounts/connect")
    second.session, second.user = SessionStore(), user
    second.session.update(copy.deepcopy(dict(first.session)))

    assert flow.consume(first, pending.state).code_verifier == pending.code_verifier
    with pytest.raises(InvalidState):
        flow.consume(second, pending.state)


def test_only_the_states_hash_is_stored():
    claim("the-state-itself")

    [row] = UsedState.objects.all()
    assert row.digest == hashlib.sha256(b"the-state-itself").hexdigest()


def test_used_states_past_the_state_lifetime_are_pruned_when_a_flow_starts(alice, monkeypatch):
    monkeypatch.setattr(used_state, "_next_prune", 0.0)
    old = UsedState.objects.create(digest="a" * 64, used_at=timezone.now() - timedelta(hours=1))
    recent = UsedState.objects.create(digest="b" * 64)

    start_flow(alice)

    assert list(UsedState.objects.values_list("pk", flat=True)) == [recent.pk]
    assert old.pk != recent.pk


def test_pruning_runs_at_most_once_a_minute_per_process(alice, monkeypatch):
    monkeypatch.setattr(used_state, "_next_prune", 0.0)
    start_flow(alice)
    old = UsedState.objects.create(digest="a" * 64, used_at=timezone.now() - timedelta(hours=1))

    start_flow(alice)
    kept = UsedState.objects.filter(pk=old.pk).exists()
    monkeypatch.setattr(used_state, "_next_prune", 0.0)  # a minute later
    start_flow(alice)

    assert kept
    assert not UsedState.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_state_used_twice_with_autocommit_off_leaves_the_transaction_usable():
    # AUTOCOMMIT: False opens a transaction without an atomic block. On
    # PostgreSQL a refused INSERT outside a savepoint aborts that transaction.
    transaction.set_autocommit(False)
    try:
        claim("the-same-state")
        with pytest.raises(InvalidState):
            claim("the-same-state")
        assert UsedState.objects.count() == 1
        transaction.commit()
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_a_state_used_within_the_state_lifetime_is_kept_by_pruning(alice, monkeypatch):
    # Its flow would still be accepted as not expired: the row is what
    # refuses a replayed signed-cookie session.
    monkeypatch.setattr(used_state, "_next_prune", 0.0)
    max_age = timedelta(seconds=get_settings().STATE_MAX_AGE)
    still_valid = UsedState.objects.create(
        digest="a" * 64, used_at=timezone.now() - max_age * 3 / 4
    )

    start_flow(alice)

    assert UsedState.objects.filter(pk=still_valid.pk).exists()
