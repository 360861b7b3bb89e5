"""Secrets audit: use every feature with distinctive secrets, then search everywhere.

Each test drives one area (the callback, refreshes, the admin, disconnecting,
the management commands, unexpected failures) with access tokens
``ya29.AUDIT-...``, refresh tokens ``1//AUDIT-...``, the code
``4/AUDIT-CODE-...``, the client secret ``AUDIT-CLIENT-SECRET-...`` (and Fernet
keys ``AUDIT-...-key``), with Google's error answers echoing them back, and
ends by searching every log record (every logger, every level, SQL included),
every row of every table (sessions decoded), every page and header the client
got, the error report each request would make, every message, every cookie,
and the ``str``/``repr`` of what it handled. Any hit fails, naming the place.
"""

import io
import json
import logging
import re
from collections import Counter
from datetime import timedelta
from urllib.parse import unquote, urlencode

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from google_connect.conf import get_settings
from google_connect.exceptions import (
    GoogleUnavailable,
    ReconnectRequired,
    RefreshFailed,
)
from google_connect.google import retry
from google_connect.google.answers import parse_token_response
from google_connect.models import GoogleAccount, GoogleSecurityEvent
from google_connect.web import flow
from google_connect.web.views import REDACTED, ConnectView
from tests.audit import (
    CLIENT_SECRET,
    CODE,
    Audit,
    AuditClient,
    access_token,
    refresh_token,
)
from tests.factories import make_account
from tests.figures import report
from tests.stub_google import StubGoogle
from tests.support import start_flow, token_body, userinfo_body

pytestmark = pytest.mark.django_db

CONNECT = "/google/accounts/connect"
CHANGELIST = "/admin/google_connect/googleaccount/"
API = "https://www.googleapis.com/calendar/v3/users/me/calendarList"

TOTALS: Counter[str] = Counter()
HITS: list[str] = []


@pytest.fixture
def audit(caplog, settings, monkeypatch):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "CLIENT_SECRET": CLIENT_SECRET}
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    caplog.set_level(logging.DEBUG)
    # Django's logging config stops "django.*" at INFO; SQL is logged (with
    # its parameters) at DEBUG, and only on a debug cursor.
    caplog.set_level(logging.DEBUG, logger="django")
    connection.force_debug_cursor = True
    yield Audit()
    connection.force_debug_cursor = False


@pytest.fixture
def failures(monkeypatch):
    """Every error the connect view turned into its 400 page."""
    seen = []
    real_failure = ConnectView.failure

    def spy(self, request, error):
        seen.append(error)
        return real_failure(self, request, error)

    monkeypatch.setattr(ConnectView, "failure", spy)
    return seen


def finish(audit, caplog, **clients):
    """Search the logs, the database and the clients' cookies; fail on any hit."""
    audit.logs(caplog.records)
    audit.database()
    for name, client in clients.items():
        audit.client(name, client)
    hits = audit.hits()
    TOTALS.update(audit.places)
    HITS.extend(hits)
    breakdown = ", ".join(f"{count} {kind}" for kind, count in TOTALS.most_common())
    report("secrets audit", f"{TOTALS.total()} places searched ({breakdown}), {len(HITS)} hits")
    assert not hits, f"{len(hits)} secrets found:\n" + "\n".join(hits)


def expired():
    return timezone.now() - timedelta(minutes=5)


def logged_in(audit, user):
    client = AuditClient(audit)
    client.force_login(user)
    return client


def revoke_fails_for(google, label):
    """Revocation answers 503 for tokens carrying ``label``, 200 for the others,
    echoing the token it was sent in the error description."""
    google.mock.add_callback(
        "POST",
        google.config.REVOKE_URL,
        callback=lambda request: (
            (503 if label in request.body else 200),
            {},
            json.dumps({"error_description": request.body}),
        ),
    )


def tokens(label, **overrides):
    """A token answer carrying this label's access and refresh tokens."""
    values = {"access_token": access_token(label), "refresh_token": refresh_token(label)}
    return token_body(**{**values, **overrides})


def callback(client, query):
    """The callback as production WSGI servers hand it over: uWSGI and mod_wsgi
    also put the raw request URI in REQUEST_URI, gunicorn in RAW_URI."""
    uri = f"{CONNECT}?{urlencode(query, doseq=True)}"
    return client.get(CONNECT, query, REQUEST_URI=uri, RAW_URI=uri)


def reason(response):
    assert response.status_code == 400
    return re.search(r'data-reason="(\w+)"', response.content.decode()).group(1)


# -- the callback ------------------------------------------------------------------


def test_connecting_and_every_connect_failure(audit, caplog, google, user, other_user, failures):
    alice, bob = logged_in(audit, user), logged_in(audit, other_user)

    def google_answers(
        token=None, token_status=200, userinfo=None, userinfo_status=200, revoke=None
    ):
        google.mock.reset()
        if token is not None:
            google.token(token, status=token_status)
        if userinfo is not None:
            google.userinfo(userinfo, status=userinfo_status)
        if revoke is not None:
            google.revoke(status=revoke)

    def attempt(client, **query):
        return callback(client, {"state": start_flow(client)["state"], "code": CODE, **query})

    # A connect, a reconnect without a refresh token, one with a new one.
    google_answers(tokens("first"), userinfo=userinfo_body())
    assert attempt(alice).status_code == 200
    google_answers(tokens("again", refresh_token=None), userinfo=userinfo_body())
    assert attempt(alice).status_code == 200
    google_answers(tokens("third"), userinfo=userinfo_body())
    state = start_flow(alice, next_url="/settings/")["state"]
    assert callback(alice, {"state": state, "code": CODE}).status_code == 302

    outcomes = [reason(callback(alice, {"state": "forged-state", "code": CODE}))]
    outcomes.append(reason(attempt(alice, error="access_denied")))
    outcomes.append(reason(attempt(alice, code=[CODE, CODE + "-twice"])))
    google_answers(
        {"error": "invalid_grant", "error_description": f"Bad code {CODE} ({CLIENT_SECRET})"},
        token_status=400,
    )
    outcomes.append(reason(attempt(alice)))
    google_answers(tokens("mac", token_type="mac"))
    outcomes.append(reason(attempt(alice)))
    google_answers()
    google.mock.post(google.config.TOKEN_URL, body=f"<html>{CODE} {CLIENT_SECRET}", status=502)
    outcomes.append(reason(attempt(alice)))
    google_answers()  # nothing answers: the token endpoint is unreachable
    outcomes.append(reason(attempt(alice)))
    google_answers(tokens("narrow", scope="openid"))
    outcomes.append(reason(attempt(alice)))
    google_answers(
        tokens("userinfo"),
        userinfo={"error": "invalid_token", "error_description": access_token("userinfo")},
        userinfo_status=401,
    )
    outcomes.append(reason(attempt(alice)))
    for revoke_status in (503, 200):
        google_answers(
            tokens(f"no-refresh-{revoke_status}", refresh_token=None),
            userinfo=userinfo_body(sub="another-google-account"),
            revoke=revoke_status,
        )
        outcomes.append(reason(attempt(alice)))
    google_answers(tokens("bob"), userinfo=userinfo_body())
    outcomes.append(reason(attempt(bob)))

    assert outcomes == [
        "invalid_state",
        "access_denied",
        "invalid_request",
        *["token_exchange_failed"] * 4,
        "scope_not_granted",
        "userinfo_failed",
        "missing_refresh_token",
        "missing_refresh_token",
        "account_linked_to_another_user",
    ]
    for error in failures:
        audit.exception(f"connect failure {error.reason}", error)
    account = GoogleAccount.objects.get()
    assert account.refresh_token == refresh_token("third")
    audit.strings("account", account)
    audit.strings("TokenResponse", parse_token_response(tokens("parsed")))
    audit.strings("get_settings()", get_settings())
    start_flow(alice)
    pending = flow.PendingFlow(**alice.session[flow.SESSION_KEY][-1])
    audit.strings(
        "PendingFlow",
        pending,
        also=(("PKCE verifier", pending.code_verifier), ("state", pending.state)),
    )
    finish(audit, caplog, alice=alice, bob=bob)


def test_the_callback_request_keeps_no_usable_code(audit, caplog, google, user):
    """A DEBUG page or a 500 mail shows request.GET and META; neither has the code."""
    client = logged_in(audit, user)
    google.token(tokens("scrubbed"))
    google.userinfo()

    response = callback(client, {"state": start_flow(client)["state"], "code": CODE})

    assert response.status_code == 200
    request = response.wsgi_request
    assert request.GET.getlist("code") == [REDACTED]
    for key in ("QUERY_STRING", "REQUEST_URI", "RAW_URI"):
        assert "AUDIT" not in unquote(request.META[key]), key
    assert "AUDIT" not in unquote(request.build_absolute_uri())
    finish(audit, caplog, client=client)


# -- refreshing ------------------------------------------------------------------------


def test_refreshes_and_refresh_failures(audit, caplog, google, settings):
    account = make_account(
        access_token=access_token("expired"),
        refresh_token=refresh_token("old"),
        expires_at=expired(),
    )
    google.token(tokens("refreshed"))

    assert account.get_access_token() == access_token("refreshed")

    # An API rejects the token: authorized_session() refreshes once and retries.
    google.mock.reset()
    google.token(tokens("after-401", refresh_token=None))
    google.mock.add_callback(
        "GET",
        API,
        callback=lambda request: (
            (200, {}, "{}")
            if request.headers["Authorization"].endswith("after-401")
            else (401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, "")
        ),
    )
    session = account.authorized_session()
    assert session.get(API).status_code == 200
    audit.strings("AuthorizedSession", session)
    audit.strings("account", account)

    dead = make_account(refresh_token=refresh_token("dead"), expires_at=expired())
    google.mock.reset()
    google.token(
        {"error": "invalid_grant", "error_description": f"{refresh_token('dead')} revoked"},
        status=400,
    )
    with pytest.raises(ReconnectRequired) as broken:
        dead.get_access_token()
    audit.exception("refresh invalid_grant", broken.value)
    with pytest.raises(ReconnectRequired) as again:
        dead.get_access_token()
    audit.exception("refresh of a reconnect_required account", again.value)

    flaky = make_account(refresh_token=refresh_token("flaky"), expires_at=expired())
    google.mock.reset()
    google.token({"error": "backend_error", "error_description": CLIENT_SECRET}, status=503)
    with pytest.raises(GoogleUnavailable) as unavailable:
        flaky.get_access_token()
    audit.exception("refresh 503 after retries", unavailable.value)
    google.mock.reset()
    google.token(tokens("unusable", token_type="mac"))
    with pytest.raises(RefreshFailed) as unusable:
        flaky.refresh_access_token()
    audit.exception("refresh answer unusable", unusable.value)

    # Once over real HTTP, so urllib3's own DEBUG records are searched too.
    with StubGoogle(token_delay=0) as stub:
        google.mock.reset()
        google.mock.add_passthru(stub.url)
        settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TOKEN_URL": stub.token_url}
        assert flaky.get_access_token().startswith("ya29.STUB-")
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    finish(audit, caplog)


# -- the admin, the disconnect view and the commands -------------------------------------


def test_admin_pages_and_actions(audit, caplog, google, admin_user):
    admin = logged_in(audit, admin_user)
    fine, dead, failing = (
        make_account(
            email=f"{label}@example.com",
            access_token=access_token(label),
            refresh_token=refresh_token(label),
        )
        for label in ("fine", "dead", "failing")
    )

    def token_endpoint(request):
        form = request.body
        if "dead" in form:
            return 400, {}, json.dumps({"error": "invalid_grant", "error_description": form})
        if "failing" in form:
            return 503, {}, json.dumps({"error": "backend_error", "error_description": form})
        return 200, {}, json.dumps(tokens("admin-refreshed"))

    def revoke_endpoint(request):
        status = 503 if "failing" in request.body else 200
        return status, {}, json.dumps({"error_description": request.body})

    google.mock.add_callback("POST", google.config.TOKEN_URL, callback=token_endpoint)
    google.mock.add_callback("POST", google.config.REVOKE_URL, callback=revoke_endpoint)
    everyone = [a.pk for a in (fine, dead, failing)]

    for url in (CHANGELIST, f"{CHANGELIST}?q=example", f"{CHANGELIST}?status__exact=active"):
        assert admin.get(url).status_code == 200
    for account in (fine, dead, failing):
        assert admin.get(f"{CHANGELIST}{account.pk}/change/").status_code == 200
        assert admin.get(f"{CHANGELIST}{account.pk}/history/").status_code == 200
    refreshed = admin.post(
        CHANGELIST,
        {"action": "refresh_access_token", "_selected_action": everyone},
        follow=True,
    )
    removed = admin.post(
        CHANGELIST, {"action": "revoke_and_remove", "_selected_action": everyone}, follow=True
    )

    assert len(list(refreshed.context["messages"])) == 3
    assert len(list(removed.context["messages"])) == 3
    assert list(GoogleAccount.objects.all()) == [failing]
    finish(audit, caplog, admin=admin)


def test_disconnect_view(audit, caplog, google, user, settings):
    client = logged_in(audit, user)
    gone, kept = (
        make_account(user, access_token=access_token(label), refresh_token=refresh_token(label))
        for label in ("gone", "kept")
    )
    revoke_fails_for(google, "kept")

    assert client.post(f"/google/accounts/{gone.pk}/disconnect", follow=True).status_code == 404
    assert client.post(f"/google/accounts/{kept.pk}/disconnect", follow=True).status_code == 404
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "MessageMiddleware" not in m]
    without_messages = logged_in(audit, user)  # a new client loads the new middleware
    assert without_messages.post(f"/google/accounts/{kept.pk}/disconnect").status_code == 503

    assert list(GoogleAccount.objects.all()) == [kept]
    finish(audit, caplog, client=client, without_messages=without_messages)


def test_management_commands(audit, caplog, google, settings):
    old_key = settings.FERNET_KEYS[0]
    settings.FERNET_KEYS = ["AUDIT-lost-key"]
    lost = make_account(access_token=access_token("lost"), refresh_token=refresh_token("lost"))
    settings.FERNET_KEYS = [old_key]
    accounts = [
        make_account(access_token=access_token(label), refresh_token=refresh_token(label))
        for label in ("revoked", "failing", "rotated")
    ]
    revoke_fails_for(google, "failing")

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(*args, stdout=out, stderr=err)
        except CommandError as exc:
            audit.exception(" ".join(args), exc)
        audit.add(f"command output: {' '.join(args)} (stdout)", out.getvalue())
        audit.add(f"command output: {' '.join(args)} (stderr)", err.getvalue())
        return out.getvalue()

    ids = [str(a.user.pk) for a in accounts[:2]]
    assert "2 would be revoked" in run(
        "revoke_google_accounts", "--user", ids[0], "--user", ids[1], "--dry-run"
    )
    assert "1 revoked, 0 already revoked, 1 failed" in run(
        "revoke_google_accounts", "--user", ids[0], "--user", ids[1]
    )
    settings.FERNET_KEYS = ["AUDIT-new-key", old_key]
    assert "2 accounts, 0 pending revocations would be re-encrypted" in run(
        "rotate_google_token_keys", "--dry-run"
    )
    assert "2 accounts, 0 pending revocations re-encrypted, 0 already current, 1 undecryptable" in (
        run("rotate_google_token_keys")
    )

    GoogleAccount.objects.filter(pk=lost.pk).update(
        last_refreshed_at=timezone.now() - timedelta(days=200)
    )
    report = run("check_google_accounts", "--send-warnings", "--keep-alive")
    assert "0 refreshed, 0 reconnect required, 1 failed" in report
    assert f"1 account with tokens no key in FERNET_KEYS decrypts: {lost.pk}" in report
    run("check_google_accounts", "--json")

    assert GoogleAccount.objects.get(pk=accounts[2].pk).refresh_token == refresh_token("rotated")
    assert not GoogleAccount.objects.get(pk=lost.pk).tokens_decryptable
    finish(audit, caplog)


# -- unexpected failures: what a 500 mail or a DEBUG=False error report shows ------------


def test_error_reports_of_unexpected_failures(audit, caplog, google, user, admin_user):
    """A bug or an unforeseen exception while Google is being called gives a 500.

    The error report it mails lists each frame's local variables: the form
    sent to Google, the Authorization header and the tokens must all show as
    cleansed (``sensitive_variables``)."""

    def fail(request):
        raise RuntimeError("unforeseen failure while talking to Google")

    for method, url in (
        ("POST", google.config.TOKEN_URL),
        ("POST", google.config.REVOKE_URL),
        ("GET", API),
    ):
        google.mock.add_callback(method, url, callback=fail)
    alice = logged_in(audit, user)
    alice.raise_request_exception = False
    admin = logged_in(audit, admin_user)
    admin.raise_request_exception = False
    stale = make_account(
        user,
        access_token=access_token("expired"),
        refresh_token=refresh_token("expired"),
        expires_at=expired(),
    )
    valid = make_account(
        user, access_token=access_token("valid"), refresh_token=refresh_token("valid")
    )

    state = start_flow(alice)["state"]
    assert callback(alice, {"state": state, "code": CODE}).status_code == 500
    assert (
        admin.post(
            CHANGELIST, {"action": "refresh_access_token", "_selected_action": [stale.pk]}
        ).status_code
        == 500
    )
    assert alice.post(f"/google/accounts/{valid.pk}/disconnect").status_code == 500
    with pytest.raises(RuntimeError) as from_refresh:
        stale.get_access_token()
    with pytest.raises(RuntimeError) as from_api:
        valid.authorized_session().get(API)

    audit.exception("refresh", from_refresh.value)
    audit.exception("authorized_session", from_api.value)
    mailed = [r for r in caplog.records if r.exc_info and getattr(r, "request", None)]
    assert len(mailed) == 3
    finish(audit, caplog, alice=alice, admin=admin)


def test_security_events_and_their_audit_trail(audit, caplog, google, admin_user):
    # Google names a revoked refresh token by its first 16 characters
    # ("1//AUDIT-REFRESH") or its double hash: neither the token nor that
    # prefix may be stored, logged or shown.
    from google_connect.google.risc_keys import KEYS
    from google_connect.token_digests import double_sha512
    from tests.risc_support import (
        TOKEN_REVOKED,
        TOKENS_REVOKED,
        FakeRisc,
        claims,
        iss_sub,
        sign,
    )

    KEYS.clear()
    FakeRisc(google.mock)
    accounts = [
        make_account(
            sub=f"sub-{label}",
            access_token=access_token(label),
            refresh_token=refresh_token(label),
        )
        for label in ("prefix", "hash", "sub")
    ]
    subjects = [
        (TOKEN_REVOKED, {"subject_type": "oauth_token", "token_type": "refresh_token",
                         "token_identifier_alg": "prefix",
                         "token": refresh_token("prefix")[:16]}),
        (TOKEN_REVOKED, {"subject_type": "oauth_token", "token_type": "refresh_token",
                         "token_identifier_alg": "hash_base64_sha512_sha512",
                         "token": double_sha512(refresh_token("hash"))}),
        (TOKENS_REVOKED, iss_sub("sub-sub")),
    ]  # fmt: skip
    admin = logged_in(audit, admin_user)
    # The receiver's own requests carry the prefix in their body: they are
    # Google's, and only the answers are searched.
    receiver = AuditClient(audit)
    for event_type, subject in subjects:
        body = sign(claims(event_type, {"subject": subject}))
        assert (
            receiver.post("/google/risc/events", body, content_type="text/plain").status_code == 202
        )
    events = "/admin/google_connect/googlesecurityevent/"
    assert admin.get(events).status_code == 200
    for event_id in GoogleSecurityEvent.objects.values_list("pk", flat=True):
        assert admin.get(f"{events}{event_id}/change/").status_code == 200

    revoked = GoogleAccount.objects.filter(status="reconnect_required", refresh_token_digest="")
    assert sorted(revoked.values_list("pk", flat=True)) == [a.pk for a in accounts]
    KEYS.clear()
    finish(audit, caplog, admin=admin, receiver=receiver)
