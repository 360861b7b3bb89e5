"""Every Google endpoint against every fault, each cell asserting the documented outcome.

The endpoints (rows) are the four calls google_connect makes: the token
endpoint during the callback, userinfo during the callback (both for a first
connect and a reconnect), the token endpoint during a refresh, and the revoke
endpoint during ``disconnect()``. The faults (columns) are what Google, or the
network in between, can answer.

A fault about a field that is not part of an endpoint's answer (``sub`` in a
token response, ``expires_in`` in userinfo) leaves that answer valid: those
cells are run and assert success, as controls that show the harness tells
success from failure. For revocation the status code is the answer (RFC 7009
§2.2), so every 200 counts as revoked whatever its body.

Each cell is one test; the module reports the matrix's size and pass count.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

import pytest
import requests
from django.utils import timezone

from google_connect.conf import get_settings
from google_connect.exceptions import (
    GoogleConnectError,
    GoogleUnavailable,
    ReconnectRequired,
    RefreshFailed,
    RevokeFailed,
)
from google_connect.google import retry
from google_connect.models import GoogleAccount
from tests.factories import make_account
from tests.figures import report
from tests.support import (
    ACCESS_TOKEN,
    AUTH_CODE,
    REFRESH_TOKEN,
    SUB,
    finish_flow,
    start_flow,
    token_body,
    userinfo_body,
)

pytestmark = pytest.mark.django_db

STORED_ACCESS = "ya29.FAULT-STORED-ACCESS-0123456789"
STORED_REFRESH = "1//FAULT-STORED-REFRESH-0123456789"
ONE_MB = 1024 * 1024
ATTEMPTS = 1 + retry.MAX_RETRIES
# The answers retried before GoogleUnavailable is raised (docs/howto/calling-apis.md).
TEMPORARY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Fragments of every secret a cell handles, searched for in every log record.
# The oversize and overlong values are tokens too (in the token cells).
SECRET_FRAGMENTS = (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    AUTH_CODE,
    STORED_ACCESS,
    STORED_REFRESH,
    "TEST-ACCESS-TOKEN",
    "TEST-REFRESH-TOKEN",
    "TEST-AUTH-CODE",
    "FAULT-STORED",
    "OVERSIZE",
    "OVERLONG",
)


# -- the rows: endpoints ---------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    setting: str  # the GOOGLE_CONNECT key holding its URL
    method: str
    good_body: Callable[[], dict[str, Any]]
    # Fields of its answer that google_connect reads; None: it reads no body.
    fields: frozenset[str] | None
    big_field: str  # the field made 1 MB by the oversize fault
    long_field: str  # the field made longer than allowed, the body staying small
    long_value: str

    @property
    def url(self) -> str:
        return getattr(get_settings(), self.setting)


TOKEN = Endpoint(
    name="token",
    setting="TOKEN_URL",
    method="POST",
    good_body=token_body,
    fields=frozenset({"access_token", "expires_in", "token_type", "refresh_token", "scope"}),
    big_field="access_token",
    long_field="access_token",
    long_value="ya29.OVERLONG-" + "A" * 5000,  # over MAX_TOKEN_LENGTH, under the body cap
)
USERINFO = Endpoint(
    name="userinfo",
    setting="USERINFO_URL",
    method="GET",
    good_body=userinfo_body,
    fields=frozenset({"sub", "email", "name", "given_name", "family_name", "picture"}),
    big_field="name",
    long_field="sub",
    long_value="OVERLONG-" + "1" * 256,  # over the 255-character column
)
REVOKE = Endpoint(
    name="revoke",
    setting="REVOKE_URL",
    method="POST",
    good_body=dict,
    fields=None,
    big_field="padding",
    long_field="padding",
    long_value="x" * 5000,
)


# -- the columns: faults ---------------------------------------------------------


class Kind(Enum):
    UNREACHABLE = "no answer at all"
    STALLED = "a 200 whose body never finishes"
    STATUS = "an HTTP error status"
    BODY = "a 200 with an unusable body"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | BaseException = b""
    content_type: str = "application/json"
    # A 200 whose body stops after these bytes with a read timeout.
    stalls_after: bytes | None = None


class _StallingBody(io.RawIOBase):
    """A response body that sends its first bytes, then times out."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        raise TimeoutError("The read operation timed out")


@dataclass(frozen=True)
class Fault:
    name: str
    kind: Kind
    reply: Callable[[Endpoint], Reply]
    status: int = 200
    error: str | None = None
    # For body faults about one field: endpoints whose answer lacks it are unaffected.
    field: str | None = None

    @property
    def temporary(self) -> bool:
        return self.kind in (Kind.UNREACHABLE, Kind.STALLED) or self.status in TEMPORARY_STATUSES

    def concerns(self, endpoint: Endpoint) -> bool:
        return self.field is None or (endpoint.fields is not None and self.field in endpoint.fields)


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def _raise(exc: BaseException) -> Callable[[Endpoint], Reply]:
    return lambda endpoint: Reply(body=exc)


def _status(status: int, error: str | None, html: bool = False) -> Fault:
    def reply(endpoint: Endpoint) -> Reply:
        if html:
            page = f"<html><body><h1>{status}.</h1> That's an error.</body></html>"
            return Reply(status=status, body=page.encode(), content_type="text/html")
        return Reply(status=status, body=_json({"error": error, "error_description": "Nope"}))

    name = f"{status} {error}" if error else f"{status} (HTML page)"
    return Fault(name, Kind.STATUS, reply, status=status, error=error)


def _body(name: str, make: Callable[[Endpoint], Reply], field: str | None = None) -> Fault:
    return Fault(name, Kind.BODY, make, field=field)


def _without(name: str) -> Callable[[Endpoint], Reply]:
    def make(endpoint: Endpoint) -> Reply:
        body = endpoint.good_body()
        body.pop(name, None)
        return Reply(body=_json(body))

    return make


def _with(name: str, value: Any) -> Callable[[Endpoint], Reply]:
    return lambda endpoint: Reply(body=_json({**endpoint.good_body(), name: value}))


def _oversize(endpoint: Endpoint) -> Reply:
    big = "ya29.OVERSIZE-" + "A" * ONE_MB
    return Reply(body=_json({**endpoint.good_body(), endpoint.big_field: big}))


def _overlong(endpoint: Endpoint) -> Reply:
    return Reply(body=_json({**endpoint.good_body(), endpoint.long_field: endpoint.long_value}))


def _truncated(endpoint: Endpoint) -> Reply:
    whole = _json(endpoint.good_body() or token_body())
    return Reply(body=whole[: len(whole) // 2])


def _stalled(endpoint: Endpoint) -> Reply:
    whole = _json(endpoint.good_body() or token_body())
    return Reply(stalls_after=whole[: len(whole) // 2])


FAULTS = [
    Fault(
        "connect timeout",
        Kind.UNREACHABLE,
        _raise(requests.exceptions.ConnectTimeout("Connection to google timed out")),
    ),
    Fault("read timeout", Kind.UNREACHABLE, _raise(requests.exceptions.ReadTimeout("timed out"))),
    Fault(
        "connection refused",
        Kind.UNREACHABLE,
        _raise(requests.exceptions.ConnectionError("[Errno 111] Connection refused")),
    ),
    Fault("read timeout mid-body", Kind.STALLED, _stalled),
    _status(400, "invalid_grant"),
    _status(400, "invalid_token"),
    _status(401, "invalid_client"),
    _status(403, "access_denied"),
    _status(429, "rate_limit_exceeded"),
    _status(500, "internal_failure"),
    _status(502, None, html=True),
    _status(503, "temporarily_unavailable"),
    _status(504, None, html=True),
    _body(
        "HTML body",
        lambda e: Reply(body=b"<!doctype html><title>Sign in</title>", content_type="text/html"),
    ),
    _body("truncated JSON", _truncated),
    _body("empty body", lambda e: Reply(body=b"")),
    _body("JSON array", lambda e: Reply(body=_json([e.good_body()]))),
    _body("missing access_token", _without("access_token"), field="access_token"),
    _body("missing expires_in", _without("expires_in"), field="expires_in"),
    _body("missing sub", _without("sub"), field="sub"),
    _body("wrong token_type", _with("token_type", "MAC"), field="token_type"),
    _body("expires_in negative", _with("expires_in", -3600), field="expires_in"),
    _body("expires_in a string", _with("expires_in", "3599"), field="expires_in"),
    _body("oversize field (1 MB)", _oversize),
    _body("overlong field", _overlong),
]


def install(google, endpoint: Endpoint, fault: Fault | None) -> None:
    """Make ``endpoint`` answer with ``fault`` (or its good answer) on every call."""
    reply = fault.reply(endpoint) if fault else Reply(body=_json(endpoint.good_body()))
    if reply.stalls_after is not None:
        head = reply.stalls_after
        google.mock.add_callback(
            endpoint.method,
            endpoint.url,
            callback=lambda request: (
                200,
                {},
                io.BufferedReader(_StallingBody(head)),
            ),
            content_type="application/json",
        )
        return
    google.mock.add(
        endpoint.method,
        endpoint.url,
        body=reply.body,
        status=reply.status,
        content_type=reply.content_type,
    )


def calls_to(google, endpoint: Endpoint) -> int:
    return sum(1 for call in google.mock.calls if call.request.url == endpoint.url)


def rows() -> list[dict[str, Any]]:
    return list(GoogleAccount.objects.order_by("pk").values())


# -- checks shared by every cell -----------------------------------------------------

_STANDARD_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write out for ``record``."""
    parts = [record.getMessage(), logging.Formatter().format(record), repr(record.args)]
    parts += [
        repr(value)
        for name, value in vars(record).items()
        if name not in _STANDARD_RECORD_ATTRIBUTES
    ]
    return "\n".join(parts)


def assert_nothing_secret_logged(records, *extra_secrets: str) -> None:
    secrets = (*SECRET_FRAGMENTS, get_settings().CLIENT_SECRET, *extra_secrets)
    for record in records:
        text = record_text(record)
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"{record.name} {record.levelname} record leaks {leaked}"


def assert_warning_logged(records) -> None:
    assert any(r.name == "google_connect" and r.levelno == logging.WARNING for r in records), (
        "no WARNING from the google_connect logger"
    )


def assert_error_told_quietly(outcome: Any, records) -> None:
    """A typed error was logged as a warning, and its message holds no secret."""
    if isinstance(outcome, GoogleConnectError):
        assert_warning_logged(records)
        for secret in SECRET_FRAGMENTS:
            assert secret not in str(outcome)


def view_response(call: Callable[[], Any]):
    """The response, or a test failure when the view raised (a 500 in production)."""
    try:
        return call()
    except Exception as exc:  # whatever it is, it is the bug under test
        pytest.fail(f"the view raised {type(exc).__name__}: a 500 in production")


# -- the matrix ------------------------------------------------------------------------


CONNECT_STEPS = [
    pytest.param(endpoint, reconnect, fault, id=f"{endpoint.name}@{mode}-{fault.name}")
    for endpoint in (TOKEN, USERINFO)
    for reconnect, mode in ((False, "connect"), (True, "reconnect"))
    for fault in FAULTS
]
REFRESH = [pytest.param(fault, id=f"token@refresh-{fault.name}") for fault in FAULTS]
DISCONNECT = [pytest.param(fault, id=f"revoke@disconnect-{fault.name}") for fault in FAULTS]
CELLS = len(CONNECT_STEPS) + len(REFRESH) + len(DISCONNECT)


class Passed(list):
    """Names of the cells that passed; a cell appends itself as its last step."""

    def __repr__(self) -> str:
        return f"<{len(self)} cells passed so far>"


@pytest.fixture(scope="module")
def passed():
    names = Passed()
    yield names
    report("fault matrix", f"{CELLS} cells, {len(names)} passed")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize(("endpoint", "reconnect", "fault"), CONNECT_STEPS)
def test_callback(endpoint, reconnect, fault, alice, user, google, logs, passed, request):
    if reconnect:
        make_account(
            user,
            sub=SUB,
            access_token=STORED_ACCESS,
            refresh_token=STORED_REFRESH,
            expires_at=timezone.now() + timedelta(minutes=20),
        )
    before = rows()
    for each in (TOKEN, USERINFO, REVOKE):
        install(google, each, fault if each is endpoint else None)
    state = start_flow(alice)["state"]
    [pending] = alice.session["google_connect_flows"]

    response = view_response(lambda: finish_flow(alice, state))

    content = response.content.decode()
    if fault.concerns(endpoint):
        reason = "token_exchange_failed" if endpoint is TOKEN else "userinfo_failed"
        assert response.status_code == 400
        assert f'data-reason="{reason}"' in content
        assert rows() == before
        assert_warning_logged(logs.records)
    else:
        assert response.status_code == 200
        [account] = GoogleAccount.objects.all()
        assert (account.access_token, account.refresh_token) == (ACCESS_TOKEN, REFRESH_TOKEN)
        assert [row["id"] for row in before] in ([], [account.pk])
    # The callback never retries: the user can press "Try again".
    assert calls_to(google, TOKEN) == 1
    assert calls_to(google, USERINFO) == (0 if endpoint is TOKEN and fault.concerns(TOKEN) else 1)
    assert calls_to(google, REVOKE) == 0
    for secret in (*SECRET_FRAGMENTS, get_settings().CLIENT_SECRET, pending["code_verifier"]):
        assert secret not in content
    assert_nothing_secret_logged(logs.records, pending["code_verifier"])
    passed.append(request.node.name)


@pytest.mark.parametrize("fault", REFRESH)
def test_refresh(fault, user, google, logs, passed, request):
    account = make_account(
        user,
        access_token=STORED_ACCESS,
        refresh_token=STORED_REFRESH,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    for each in (TOKEN, USERINFO, REVOKE):
        install(google, each, fault if each is TOKEN else None)
    [before] = rows()

    try:
        outcome: Any = account.get_access_token()
    except GoogleConnectError as exc:
        outcome = exc

    [after] = rows()
    if not fault.concerns(TOKEN):
        assert outcome == ACCESS_TOKEN
        assert (after["access_token"], after["refresh_token"]) == (ACCESS_TOKEN, REFRESH_TOKEN)
        assert calls_to(google, TOKEN) == 1
    elif fault.error == "invalid_grant":
        assert type(outcome) is ReconnectRequired
        assert after == {
            **before,
            "status": GoogleAccount.Status.RECONNECT_REQUIRED,
            "reconnect_reason": "invalid_grant",
            "updated_at": after["updated_at"],
        }
        assert calls_to(google, TOKEN) == 1
    elif fault.temporary:
        assert type(outcome) is GoogleUnavailable
        assert outcome.temporary is True
        assert after == before
        assert calls_to(google, TOKEN) == ATTEMPTS
    else:
        assert type(outcome) is RefreshFailed
        assert after == before
        assert calls_to(google, TOKEN) == 1
    assert_error_told_quietly(outcome, logs.records)
    assert calls_to(google, USERINFO) == calls_to(google, REVOKE) == 0
    assert_nothing_secret_logged(logs.records)
    passed.append(request.node.name)


@pytest.mark.parametrize("fault", DISCONNECT)
def test_disconnect(fault, user, google, logs, passed, request):
    account = make_account(user, access_token=STORED_ACCESS, refresh_token=STORED_REFRESH)
    for each in (TOKEN, USERINFO, REVOKE):
        install(google, each, fault if each is REVOKE else None)
    before = rows()

    try:
        outcome: Any = account.disconnect()
    except GoogleConnectError as exc:
        outcome = exc

    if fault.kind in (Kind.BODY, Kind.STALLED):
        assert outcome is True  # a 200, whatever its body
        assert rows() == []
        assert calls_to(google, REVOKE) == 1
    elif fault.error == "invalid_token":
        assert outcome is False  # already revoked, which counts as revoked
        assert rows() == []
        assert calls_to(google, REVOKE) == 1
    elif fault.temporary:
        assert type(outcome) is GoogleUnavailable
        assert rows() == before
        assert calls_to(google, REVOKE) == ATTEMPTS
    else:
        assert type(outcome) is RevokeFailed
        assert rows() == before
        assert calls_to(google, REVOKE) == 1
    assert_error_told_quietly(outcome, logs.records)
    assert calls_to(google, TOKEN) == calls_to(google, USERINFO) == 0
    assert_nothing_secret_logged(logs.records)
    passed.append(request.node.name)
