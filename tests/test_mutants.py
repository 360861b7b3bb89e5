"""Tests that kill mutants which survived the suite (issue 11, item 9).

Each one fails on a small, plausible change of the code: the comment above
it names the change.

The survivors of the second mutation test (issue 22) are killed by tests
beside the behaviour's other tests (each was run against its mutant):

- risc_actions: accounts' select_for_update() removed:
  test_risc_events::test_an_event_waits_for_a_refresh_in_flight_and_sees_what_it_stored
- risc_actions: on_commit around the signals removed:
  test_risc_events::test_a_duplicate_that_would_change_an_account_sends_no_signal
- risc_actions: len(sub) > MAX_TEXT made >=:
  test_risc_events::test_a_sub_of_the_longest_stored_length_is_matched
- security_event_token: CLOCK_SKEW_SECONDS 600:
  test_risc_receiver::test_a_token_issued_minutes_ahead_is_refused
- security_event_token: empty audiences kept (conf.risc_audiences already
  drops an empty CLIENT_ID, so only an empty RISC_AUDIENCES entry reaches it):
  test_risc_receiver::test_an_empty_risc_audience_matches_no_token
- receiver: declared-length check removed:
  test_risc_receiver::test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read
- receiver: Cache-Control no-store removed:
  test_risc_receiver::test_a_refusal_is_not_cached
- grants: warning window a day short:
  test_check_google_accounts::test_the_warning_window_is_exactly_expiry_warning_days
- grants: the claim not rechecking "not yet warned":
  test_check_google_accounts::test_an_account_another_run_warned_since_it_was_read_is_not_warned_again
- grants: keep-alive status re-check removed:
  test_check_google_accounts::test_keep_alive_skips_an_account_that_needs_a_reconnect_since_it_was_read
- lifetimes: a reconnect resets expiry_warned_at:
  test_check_google_accounts::test_a_reconnect_without_a_new_refresh_token_is_not_warned_again
- health: "ended" counts reconnect-required rows:
  test_check_google_accounts::test_a_grant_that_ended_on_an_account_needing_a_reconnect_is_not_counted_as_ended
- health: undecryptable rows read on default:
  test_multiple_databases::test_the_health_summary_counts_undecryptable_rows_where_the_router_puts_them
- tasks: chunk_size < 1 accepted:
  test_tasks::test_a_chunk_size_of_zero_is_refused_not_a_run_that_queues_nothing
- tasks: _revoked_and_kept filter dropped:
  test_tasks::test_a_plain_revoke_after_keep_local_keeps_the_blanked_rows
- decorators: another account preferred to the holder:
  test_scope_gate::test_the_account_holding_the_sets_is_reconnected_rather_than_another_asked
- mixins: redirect_field_name ignored:
  test_scope_gate::test_the_mixin_login_redirect_field_can_be_renamed
- mixins: only the first scope set checked:
  test_scope_gate::test_the_mixin_requires_every_set_it_names
- account_views: Cache-Control no-store removed:
  test_accounts_page::test_the_page_is_not_cached
- account_views: == wanted made in wanted:
  test_accounts_page::test_the_confirm_step_takes_the_whole_id_not_a_part_of_it
- pending_revocation: .using() dropped:
  test_multiple_databases::test_a_deletion_in_another_database_keeps_its_pending_revocation_there
- pending_revocation: an already-dead grant kept:
  test_pending_revocation::test_a_grant_google_reports_already_dead_is_no_longer_pending
  test_pending_revocation::test_a_grant_already_dead_at_the_deletion_leaves_nothing_pending
- rotation: the re-check under the lock removed:
  test_key_rotation::test_a_row_re_encrypted_meanwhile_is_not_rewritten
- rotation: the chunk filter pk__in=ids dropped:
  test_key_rotation::test_rotating_some_ids_leaves_the_other_rows_alone
- disconnection: signal sent before commit:
  test_disconnect::test_a_disconnect_rolled_back_sends_no_signal
- used_state: pruning at half of STATE_MAX_AGE:
  test_single_use_state::test_a_state_used_within_the_state_lifetime_is_kept_by_pruning
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
