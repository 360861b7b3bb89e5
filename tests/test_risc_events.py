"""What each security event does to the accounts, the audit trail and the signals."""

import json
import logging
import threading
import time
from datetime import timedelta

import pytest
import responses
from django.db import connection, connections
from django.db.models import signals
from django.utils import timezone

from google_connect.exceptions import ReconnectRequired
from google_connect.models import GoogleAccount, GoogleSecurityEvent
from google_connect.risc import actions as risc_actions
from google_connect.risc.token import SecurityEventToken
from google_connect.signals import google_account_reconnect_required, google_security_event
from google_connect.store.reasons import ReconnectReason
from google_connect.token_digests import double_sha512
from tests.factories import make_account
from tests.risc_support import (
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    CREDENTIAL_CHANGE_REQUIRED,
    ISSUER,
    SECEVENT,
    SESSIONS_REVOKED,
    TOKEN_REVOKED,
    TOKENS_REVOKED,
    VERIFICATION,
    claims,
    iss_sub,
    sign,
)
from tests.support import recording

pytestmark = pytest.mark.django_db(transaction=True)

REFRESH = "1//0gTESTREFRESHTOKEN-abcdefghijklmnopqrstuvwxyz0123456789"


def push(client, risc, event_type, event, **overrides):
    response = risc.post(client, sign(claims(event_type, event, **overrides)))
    assert response.status_code == 202
    return GoogleSecurityEvent.objects.order_by("-pk").first()


def test_tokens_revoked_ends_every_account_with_that_sub(client, risc, user):
    account = make_account(user, sub="sub-1", refresh_token=REFRESH)
    other = make_account(sub="sub-2")

    with recording(google_account_reconnect_required, google_security_event) as sent:
        event = push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("sub-1")})

    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "revoked")
    assert (account.access_token, account.refresh_token) == ("", "")
    assert (account.refresh_token_digest, account.refresh_token_prefix_digest) == ("", "")
    other.refresh_from_db()
    assert other.status == "active"
    assert (event.event_type, event.subject_sub, event.accounts_affected) == (
        TOKENS_REVOKED,
        "sub-1",
        1,
    )
    assert "revoked" in event.action
    assert [(s["signal"], s["sender"]) for s in sent] == [
        (google_account_reconnect_required, GoogleAccount),
        (google_security_event, GoogleSecurityEvent),
    ]
    assert sent[0]["account"].pk == account.pk
    assert (sent[0]["reason"], sent[0]["error"]) == (ReconnectReason.REVOKED, None)
    assert sent[1]["event"] == event
    assert [a.pk for a in sent[1]["accounts"]] == [account.pk]


def test_get_access_token_then_says_reconnect_without_calling_google(client, risc, google):
    from google_connect.exceptions import ReconnectRequired

    account = make_account(sub="sub-1")
    token_mock = google.token()
    push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("sub-1")})

    account.refresh_from_db()
    with pytest.raises(ReconnectRequired):
        account.get_access_token()
    assert token_mock.call_count == 0


def test_a_revoked_account_disconnects_without_asking_google(client, risc, google):
    account = make_account(sub="sub-1")
    revoke_mock = google.revoke()
    push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("sub-1")})

    account.refresh_from_db()

    assert account.disconnect() is False
    assert revoke_mock.call_count == 0
    assert not GoogleAccount.objects.exists()


def test_a_subject_of_another_issuer_matches_nothing(client, risc):
    account = make_account(sub="sub-1")
    subject = {**iss_sub("sub-1"), "iss": "https://elsewhere.example/"}

    event = push(client, risc, TOKENS_REVOKED, {"subject": subject})

    account.refresh_from_db()
    assert account.status == "active"
    assert (event.subject_sub, event.accounts_affected) == (None, 0)


def test_tokens_revoked_for_an_unknown_sub_is_recorded(client, risc):
    event = push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("nobody")})

    assert (event.subject_sub, event.accounts_affected) == ("nobody", 0)


@pytest.mark.parametrize(
    ("alg", "identifier"),
    [("prefix", REFRESH[:16]), ("hash_base64_sha512_sha512", double_sha512(REFRESH))],
)
def test_token_revoked_matches_the_refresh_token(client, risc, alg, identifier):
    account = make_account(sub="sub-1", refresh_token=REFRESH)
    bystander = make_account(sub="sub-2", refresh_token=REFRESH[:15] + "Z" + REFRESH[16:])
    subject = {
        "subject_type": "oauth_token",
        "token_type": "refresh_token",
        "token_identifier_alg": alg,
        "token": identifier,
    }

    with recording(google_account_reconnect_required) as sent:
        event = push(client, risc, TOKEN_REVOKED, {"subject": subject})

    account.refresh_from_db()
    bystander.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "revoked")
    assert account.refresh_token == ""
    assert bystander.status == "active"
    assert (event.subject_sub, event.accounts_affected) == ("sub-1", 1)
    assert [s["account"].pk for s in sent] == [account.pk]


@pytest.mark.parametrize(
    "subject",
    [
        {"subject_type": "oauth_token", "token_type": "access_token",
         "token_identifier_alg": "prefix", "token": REFRESH[:16]},
        {"subject_type": "oauth_token", "token_type": "refresh_token",
         "token_identifier_alg": "md5", "token": REFRESH[:16]},
        {"subject_type": "oauth_token", "token_type": "refresh_token",
         "token_identifier_alg": "hash_base64_sha512_sha512", "token": ""},
        {"subject_type": "oauth_token", "token_type": "refresh_token",
         "token_identifier_alg": "prefix", "token": REFRESH[:10]},
    ],
)  # fmt: skip
def test_token_revoked_that_names_no_refresh_token_of_ours(client, risc, subject):
    account = make_account(sub="sub-1", refresh_token=REFRESH)
    blank = make_account(sub="sub-2", refresh_token="")

    event = push(client, risc, TOKEN_REVOKED, {"subject": subject})

    account.refresh_from_db()
    blank.refresh_from_db()
    assert (account.status, blank.status) == ("active", "active")
    assert event.accounts_affected == 0


def test_account_disabled_for_hijacking(client, risc):
    account = make_account(sub="sub-1")

    with recording(google_account_reconnect_required) as sent:
        event = push(
            client, risc, ACCOUNT_DISABLED, {"subject": iss_sub("sub-1"), "reason": "hijacking"}
        )

    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "account_disabled")
    assert account.refresh_token != ""
    assert (event.reason, event.accounts_affected) == ("hijacking", 1)
    assert [(s["reason"], s["error"]) for s in sent] == [(ReconnectReason.ACCOUNT_DISABLED, None)]


@pytest.mark.parametrize(
    ("event_type", "extra"),
    [
        (ACCOUNT_DISABLED, {"reason": "bulk-account"}),
        (ACCOUNT_DISABLED, {}),
        (ACCOUNT_ENABLED, {}),
        (SESSIONS_REVOKED, {}),
        (CREDENTIAL_CHANGE_REQUIRED, {}),
        (SECEVENT + "risc/event-type/something-new", {}),
    ],
)
def test_events_that_are_recorded_and_signalled_only(client, risc, event_type, extra):
    account = make_account(sub="sub-1")

    with recording(google_security_event, google_account_reconnect_required) as sent:
        event = push(client, risc, event_type, {"subject": iss_sub("sub-1"), **extra})

    account.refresh_from_db()
    assert account.status == "active"
    assert (event.event_type, event.subject_sub, event.accounts_affected) == (
        event_type,
        "sub-1",
        0,
    )
    assert event.reason == extra.get("reason", "")
    assert [s["signal"] for s in sent] == [google_security_event]
    assert [a.pk for a in sent[0]["accounts"]] == [account.pk]


def test_verification_logs_its_state(client, risc, caplog):
    with caplog.at_level(logging.INFO, logger="google_connect"):
        event = push(client, risc, VERIFICATION, {"state": "check-123"})

    assert event.event_type == VERIFICATION
    assert "state='check-123'" in caplog.text


def test_an_account_already_reconnect_required_is_not_signalled_again(client, risc):
    account = make_account(sub="sub-1")
    account.status, account.reconnect_reason = "reconnect_required", "invalid_grant"
    account.save()

    with recording(google_account_reconnect_required) as sent:
        push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("sub-1")})

    account.refresh_from_db()
    assert (account.reconnect_reason, account.refresh_token) == ("invalid_grant", "")
    assert sent == []


def test_a_failing_signal_receiver_is_logged_not_a_500(client, risc, caplog):
    make_account(sub="sub-1")

    def broken(**kwargs):
        raise RuntimeError("the site's bug")

    google_security_event.connect(broken, weak=False)
    google_account_reconnect_required.connect(broken, weak=False)
    try:
        response = risc.post(client, sign(claims(TOKENS_REVOKED, {"subject": iss_sub("sub-1")})))
    finally:
        google_security_event.disconnect(broken)
        google_account_reconnect_required.disconnect(broken)

    assert response.status_code == 202
    assert GoogleAccount.objects.get().status == "reconnect_required"
    assert caplog.text.count("a receiver of a security event's signal failed") == 2


def test_the_signal_waits_for_the_commit(client, risc):
    make_account(sub="sub-1")
    seen = []

    def receiver(event, **kwargs):
        # A receiver reading the table sees the committed row.
        seen.append(GoogleSecurityEvent.objects.filter(pk=event.pk).exists())

    with recording(google_security_event):
        google_security_event.connect(receiver, weak=False)
        try:
            push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("sub-1")})
        finally:
            google_security_event.disconnect(receiver)

    assert seen == [True]


def test_a_duplicate_sends_no_signal(client, risc):
    push(client, risc, ACCOUNT_ENABLED, {"subject": iss_sub("sub-1")}, jti="dup")

    with recording(google_security_event) as sent:
        risc.post(client, sign(claims(ACCOUNT_ENABLED, {}, jti="dup")))

    assert sent == []


@pytest.mark.parametrize(
    ("event_type", "event"),
    [
        (TOKENS_REVOKED, {"subject": iss_sub("sub\x00-1"), "reason": "a\x00b"}),
        (VERIFICATION, {"state": "st\x00ate"}),
        (TOKEN_REVOKED, {"subject": {"subject_type": "oauth_token", "token_type": "refresh_token",
                                     "token_identifier_alg": "hash_base64_sha512_sha512",
                                     "token": "x\x00y"}}),
    ],
)  # fmt: skip
def test_nul_characters_are_not_a_500_on_postgresql(client, risc, event_type, event):
    event = push(client, risc, event_type, event)

    assert "\x00" not in event.reason
    assert event.subject_sub is None


@pytest.mark.parametrize("overrides", [{"jti": "j\x00ti"}, {"events": {"bad\x00type": {}}}])
def test_nul_characters_in_ids_are_refused(client, risc, overrides):
    response = risc.post(client, sign(claims(**overrides)))

    assert response.status_code == 400


# -- with no receiver, the accounts are changed in one UPDATE -------------------------


def row_state(pk):
    account = GoogleAccount.objects.get(pk=pk)
    return (
        account.status,
        account.reconnect_reason,
        account.access_token,
        account.refresh_token,
        account.refresh_token_prefix_digest,
        account.refresh_token_digest,
    )


@pytest.mark.parametrize("listening", [True, False], ids=["a receiver", "no receiver"])
@pytest.mark.parametrize(
    ("event_type", "extra", "before", "after"),
    [
        (TOKENS_REVOKED, {}, ("active", ""), ("reconnect_required", "revoked")),
        (
            TOKENS_REVOKED,
            {},
            ("reconnect_required", "invalid_grant"),
            ("reconnect_required", "invalid_grant"),
        ),
        (
            ACCOUNT_DISABLED,
            {"reason": "hijacking"},
            ("active", ""),
            ("reconnect_required", "account_disabled"),
        ),
        (
            ACCOUNT_DISABLED,
            {"reason": "hijacking"},
            ("reconnect_required", "invalid_grant"),
            ("reconnect_required", "invalid_grant"),
        ),
    ],
)
def test_an_event_changes_the_rows_alike_with_or_without_a_receiver(
    client, risc, listening, event_type, extra, before, after
):
    account = make_account(sub="sub-1", refresh_token=REFRESH)
    account.status, account.reconnect_reason = before
    account.save()
    untouched = make_account(sub="sub-2", refresh_token=REFRESH + "-3")
    stamped = GoogleAccount.objects.get(pk=account.pk).updated_at

    if listening:
        with recording(google_account_reconnect_required):
            event = push(client, risc, event_type, {"subject": iss_sub("sub-1"), **extra})
    else:
        assert not risc_actions._anyone_listening()
        event = push(client, risc, event_type, {"subject": iss_sub("sub-1"), **extra})

    tokens_deleted = event_type == TOKENS_REVOKED
    status, reason, access, refresh, prefix_digest, digest = row_state(account.pk)
    assert (status, reason) == after
    if tokens_deleted:
        assert (access, refresh, prefix_digest, digest) == ("", "", "", "")
    else:
        assert (refresh, digest != "") == (REFRESH, True)
    assert row_state(untouched.pk)[:2] == ("active", "")
    changed = tokens_deleted or before[0] == "active"
    assert event.accounts_affected == (1 if changed else 0)
    touched = GoogleAccount.objects.get(pk=account.pk).updated_at > stamped
    assert touched is changed
    assert event.subject_sub == "sub-1"


def accounts_heard(signal, sent):
    if signal is google_security_event:
        return [a.pk for a in sent[0]["accounts"]]
    if signal is google_account_reconnect_required:
        return [s["account"].pk for s in sent]
    return [s["instance"].pk for s in sent]


@pytest.mark.parametrize(
    "signal",
    [google_account_reconnect_required, google_security_event, signals.pre_save, signals.post_save],
    ids=["reconnect_required", "security_event", "pre_save", "post_save"],
)
def test_any_receiver_of_the_accounts_hears_of_each_one(client, risc, signal):
    # Each of them is reason enough to fetch, lock and save the accounts one
    # by one: with one UPDATE, none would hear of them.
    account = make_account(sub="sub-1", refresh_token=REFRESH)
    sender = GoogleSecurityEvent if signal is google_security_event else GoogleAccount

    with recording(signal, sender=sender) as sent:
        push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("sub-1")})

    assert accounts_heard(signal, sent) == [account.pk]


def test_token_revoked_with_no_receiver_ends_the_grant(client, risc):
    # No sub in the event: the account is found by its refresh token's digest.
    account = make_account(sub="sub-1", refresh_token=REFRESH)
    subject = {
        "subject_type": "oauth_token",
        "token_type": "refresh_token",
        "token_identifier_alg": "prefix",
        "token": REFRESH[:16],
    }
    assert not risc_actions._anyone_listening()

    event = push(client, risc, TOKEN_REVOKED, {"subject": subject})

    assert row_state(account.pk)[:4] == ("reconnect_required", "revoked", "", "")
    assert (event.subject_sub, event.accounts_affected) == ("sub-1", 1)


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_a_sub_of_the_longest_stored_length_is_matched(client, risc):
    sub = "1" * risc_actions.MAX_TEXT
    account = make_account(sub=sub)

    event = push(client, risc, TOKENS_REVOKED, {"subject": iss_sub(sub)})

    account.refresh_from_db()
    assert account.status == "reconnect_required"
    assert (event.subject_sub, event.accounts_affected) == (sub, 1)


def test_a_duplicate_that_would_change_an_account_sends_no_signal(client, risc):
    push(client, risc, TOKENS_REVOKED, {"subject": iss_sub("sub-1")}, jti="dup")
    # Connected after the first delivery: the second one, refused as a
    # duplicate, would end it, but everything it did is rolled back.
    account = make_account(sub="sub-1")

    with recording(google_account_reconnect_required, google_security_event) as sent:
        response = risc.post(
            client, sign(claims(TOKENS_REVOKED, {"subject": iss_sub("sub-1")}, jti="dup"))
        )

    assert response.status_code == 202
    account.refresh_from_db()
    assert account.status == "active"
    assert sent == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_an_event_waits_for_a_refresh_in_flight_and_sees_what_it_stored(google):
    # A refresh holds the row lock while Google answers; the event, read
    # under the same lock, sees what the refresh stored (the grant already
    # ended, so not signalled again, its reason kept), not the row as it was.
    account = make_account(sub="sub-1", expires_at=timezone.now() - timedelta(minutes=1))
    at_google, answer = threading.Event(), threading.Event()

    def slow_invalid_grant(request):
        at_google.set()
        answer.wait(10)
        return 400, {}, json.dumps({"error": "invalid_grant"})

    google.mock.add_callback(responses.POST, google.config.TOKEN_URL, callback=slow_invalid_grant)
    token = SecurityEventToken(
        jti="concurrent",
        issuer=ISSUER,
        issued_at=timezone.now(),
        event_type=TOKENS_REVOKED,
        event={"subject": iss_sub("sub-1")},
    )

    def refresh():
        try:
            with pytest.raises(ReconnectRequired):
                GoogleAccount.objects.get(pk=account.pk).get_access_token()
        finally:
            connections.close_all()

    def receive():
        try:
            risc_actions.receive(token)
        finally:
            connections.close_all()

    with recording(google_account_reconnect_required) as sent:
        refreshing = threading.Thread(target=refresh)
        refreshing.start()
        assert at_google.wait(10)
        receiving = threading.Thread(target=receive)
        receiving.start()
        time.sleep(0.5)  # the event reads (or would read) the row meanwhile
        answer.set()
        refreshing.join(10)
        receiving.join(10)

    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "invalid_grant")
    assert (account.access_token, account.refresh_token) == ("", "")
    assert [s["reason"] for s in sent] == [ReconnectReason.INVALID_GRANT]
