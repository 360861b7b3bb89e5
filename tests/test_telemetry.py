"""OpenTelemetry: spans and metrics, read back with the SDK's in-memory exporters."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from opentelemetry.trace import SpanKind

from google_connect.exceptions import GoogleUnavailable, ReconnectRequired
from google_connect.google import retry, telemetry
from google_connect.models import DailyCount
from google_connect.signals import google_account_reconnect_required
from google_connect.store.pending_revocation import PendingRevocation, revoke_pending
from tests.factories import make_account
from tests.risc_support import ACCOUNT_DISABLED, TOKENS_REVOKED, claims, iss_sub, sign
from tests.support import connect, recording
from tests.telemetry_support import EXPORTER, READER, set_providers
from tests.test_api import popup

pytestmark = pytest.mark.django_db

SECRETS = ("ya29.", "1//", "alice@example.com", "sub-telemetry", "TEST-CLIENT-SECRET", "AUTH")


@pytest.fixture(scope="module", autouse=True)
def providers():
    set_providers()


@pytest.fixture
def spans():
    EXPORTER.clear()
    READER.get_metrics_data()  # drops what earlier tests counted
    yield EXPORTER
    EXPORTER.clear()


def points(name, data=None):
    """The data points of metric ``name``: [(attributes, value)]; reading them
    (without ``data``) drops them."""
    data = data or READER.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        found.append(
                            (dict(point.attributes), value if value is not None else point.count)
                        )
    return found


def expired_account(**fields):
    return make_account(
        sub="sub-telemetry",
        email="alice@example.com",
        access_token="ya29.OLD",
        refresh_token="1//STORED",
        expires_at=timezone.now() - timedelta(minutes=1),
        **fields,
    )


def test_a_refresh_is_an_operation_span_around_a_client_span(google, spans):
    account = expired_account()
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})

    account.get_access_token()

    client_span, operation = spans.get_finished_spans()
    assert operation.name == "google_connect.refresh"
    assert dict(operation.attributes) == {"google_connect.client": "default"}
    assert client_span.parent.span_id == operation.context.span_id
    assert client_span.name == "POST"
    assert client_span.kind == SpanKind.CLIENT
    assert dict(client_span.attributes) == {
        "http.request.method": "POST",
        "server.address": "oauth2.googleapis.com",
        "server.port": 443,
        "url.full": "https://oauth2.googleapis.com/token",
        "http.response.status_code": 200,
    }


def test_each_retry_is_its_own_span_with_its_resend_count(google, spans, monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    account = expired_account()
    google.token({"error": "backend_error"}, status=503)
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})

    account.get_access_token()

    first, second = (s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT)
    assert "http.request.resend_count" not in first.attributes
    assert first.attributes["error.type"] == "503"
    assert second.attributes["http.request.resend_count"] == 1
    assert "error.type" not in second.attributes


def test_url_full_drops_query_string_and_credentials():
    assert (
        telemetry.safe_url("https://user:pw@example.com:8443/a/b?token=ya29.X#frag")
        == "https://example.com:8443/a/b"
    )


def test_an_unreachable_google_sets_error_type_to_the_exception(google, spans, monkeypatch):
    import requests

    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    account = expired_account()
    for _ in range(4):
        google.mock.post(google.config.TOKEN_URL, body=requests.ConnectionError("refused"))

    with pytest.raises(GoogleUnavailable):
        account.get_access_token()

    *client_spans, operation = spans.get_finished_spans()
    assert [s.attributes["error.type"] for s in client_spans] == ["ConnectionError"] * 4
    assert operation.attributes["error.type"] == "GoogleUnavailable"


def test_request_duration_is_recorded_per_attempt(google, spans):
    account = expired_account()
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})

    account.get_access_token()

    assert points("http.client.request.duration") == [
        (
            {
                "http.request.method": "POST",
                "server.address": "oauth2.googleapis.com",
                "server.port": 443,
                "http.response.status_code": 200,
            },
            1,
        )
    ]


def test_refreshes_are_counted_by_outcome(google, spans):
    expired_account()
    dead = make_account(sub="sub-dead", expires_at=timezone.now() - timedelta(minutes=1))
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})
    google.token({"error": "invalid_grant"}, status=400)
    from google_connect.models import GoogleAccount

    GoogleAccount.objects.get(sub="sub-telemetry").get_access_token()
    with pytest.raises(ReconnectRequired):
        dead.get_access_token()

    data = READER.get_metrics_data()
    assert sorted(points("google_connect.refreshes", data), key=str) == sorted(
        [
            ({"google_connect.outcome": "success"}, 1),
            (
                {
                    "google_connect.outcome": "reconnect_required",
                    "google_connect.reason": "invalid_grant",
                },
                1,
            ),
        ],
        key=str,
    )
    assert points("google_connect.reconnect_required", data) == [
        ({"google_connect.reason": "invalid_grant"}, 1)
    ]


def test_a_connect_is_a_span_and_a_count(alice, google, spans):
    connect(alice, google)

    *calls, operation = spans.get_finished_spans()
    assert operation.name == "google_connect.connect"
    assert dict(operation.attributes) == {"google_connect.client": "default"}
    assert sorted(s.name for s in calls) == ["GET", "POST"]
    assert points("google_connect.connections") == [
        (
            {
                "google_connect.outcome": "success",
                "google_connect.reason": "",
                "google_connect.client": "default",
            },
            1,
        )
    ]


def test_a_failed_connect_is_counted_with_its_reason(alice, spans):
    response = alice.get("/google/accounts/connect", {"state": "forged", "code": "AUTH"})

    assert response.status_code == 400
    (operation,) = spans.get_finished_spans()
    assert operation.name == "google_connect.connect"
    assert dict(operation.attributes) == {"google_connect.reason": "invalid_state"}
    assert points("google_connect.connections") == [
        ({"google_connect.outcome": "failed", "google_connect.reason": "invalid_state"}, 1)
    ]


def test_a_failed_api_connect_names_its_reason_on_the_span(alice, google, spans):
    google.token({"error": "invalid_grant"}, status=400)

    response = popup(alice)

    assert response.status_code == 400
    (operation,) = [s for s in spans.get_finished_spans() if s.name == "google_connect.connect"]
    assert dict(operation.attributes) == {
        "google_connect.reason": "token_exchange_failed",
        # The JSON answer leaves the operation as an exception.
        "error.type": "ApiError",
    }


def test_a_security_event_is_a_span_and_a_count(client, risc, spans):
    make_account(sub="sub-telemetry")

    response = risc.post(
        client, sign(claims(TOKENS_REVOKED, {"subject": iss_sub("sub-telemetry")}))
    )

    assert response.status_code == 202
    (event,) = [s for s in spans.get_finished_spans() if s.name == "google_connect.risc.event"]
    assert dict(event.attributes) == {
        "google_connect.event_type": "oauth/event-type/tokens-revoked"
    }
    assert points("google_connect.security_events") == [
        (
            {
                "google_connect.event_type": "oauth/event-type/tokens-revoked",
                "google_connect.action": "reconnect required (revoked)",
            },
            1,
        )
    ]


@pytest.mark.parametrize("listening", [True, False], ids=["a receiver", "no receiver"])
@pytest.mark.parametrize(
    ("event_type", "extra", "reason", "ended"),
    [
        # Of the addressed client's two accounts, one was dead already.
        (TOKENS_REVOKED, {}, "revoked", 1),
        # The Google account's: the other client's account too.
        (ACCOUNT_DISABLED, {"reason": "hijacking"}, "account_disabled", 2),
    ],
    ids=["tokens revoked", "account disabled"],
)
def test_a_security_event_counts_each_grant_it_ends(
    client, risc, settings, spans, listening, event_type, extra, reason, ended
):
    # With a receiver the accounts are saved one by one; without, changed in
    # place by UPDATE: each way, the grants found dead are counted as a dead
    # refresh's are, and one already dead is not counted again.
    make_account(sub="sub-telemetry", client_id="")
    make_account(
        sub="sub-telemetry",
        client_id=settings.GOOGLE_CONNECT["CLIENT_ID"],
        status="reconnect_required",
        reconnect_reason="invalid_grant",
    )
    make_account(sub="sub-telemetry", client_id="another-client")
    event = claims(event_type, {"subject": iss_sub("sub-telemetry"), **extra})

    if listening:
        with recording(google_account_reconnect_required):
            response = risc.post(client, sign(event))
    else:
        response = risc.post(client, sign(event))

    assert response.status_code == 202
    assert points("google_connect.reconnect_required") == [
        ({"google_connect.reason": reason}, ended)
    ]


def test_a_pending_revocation_is_a_revoke_span_and_a_count(google, spans):
    pending = PendingRevocation(token="1//PENDING", sub="sub-telemetry")
    pending.save()
    google.revoke()

    assert revoke_pending(pending) is True

    assert [s.name for s in spans.get_finished_spans()] == ["POST", "google_connect.revoke"]
    assert points("google_connect.revocations") == [({"google_connect.outcome": "revoked"}, 1)]


def test_a_pending_revocation_google_refused_is_counted_failed(google, spans):
    pending = PendingRevocation(token="1//PENDING", sub="sub-telemetry")
    pending.save()
    google.revoke(status=503, body={"error": "backend_error"})

    assert revoke_pending(pending, retry=False) is None

    (operation,) = named_spans(spans, "google_connect.revoke")
    assert operation.attributes["error.type"] == "RevokeFailed"
    assert points("google_connect.revocations") == [({"google_connect.outcome": "failed"}, 1)]


def named_spans(spans, name):
    return [s for s in spans.get_finished_spans() if s.name == name]


def test_a_revocation_is_a_span_and_a_count(google, spans):
    account = make_account(sub="sub-telemetry", refresh_token="1//STORED")
    google.revoke()

    account.revoke()

    assert [s.name for s in spans.get_finished_spans()] == ["POST", "google_connect.revoke"]
    assert points("google_connect.revocations") == [({"google_connect.outcome": "revoked"}, 1)]


def test_no_secret_reaches_any_span_or_metric(alice, google, spans, monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    connect(alice, google)
    account = expired_account(user=None)
    google.token({"error": "backend_error"}, status=503)
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})
    account.get_access_token()

    exported = [json.loads(s.to_json()) for s in spans.get_finished_spans()]
    text = json.dumps(exported) + READER.get_metrics_data().to_json()
    assert exported
    for secret in SECRETS:
        assert secret not in text


def test_the_day_s_refreshes_are_counted_after_commit(
    google, spans, django_capture_on_commit_callbacks
):
    account = expired_account()
    google.token({"access_token": "ya29.NEW", "expires_in": 3599, "token_type": "Bearer"})

    with django_capture_on_commit_callbacks(execute=True):
        account.get_access_token()

    assert list(DailyCount.objects.values_list("kind", "count")) == [("refreshes", 1)]


def test_without_the_api_nothing_is_recorded(monkeypatch, spans):
    monkeypatch.setattr(telemetry, "_trace", None)
    monkeypatch.setattr(telemetry, "_metrics", None)

    with telemetry.client_span("GET", "https://example.com/") as span:
        span.set_status_code(500)
    with telemetry.operation("refresh") as operation:
        operation.set("reason", "x")
    telemetry.count("google_connect.refreshes", outcome="success")

    assert spans.get_finished_spans() == ()


def test_the_accounts_gauge_reports_counts_by_status(spans, monkeypatch):
    from google_connect.store import health

    monkeypatch.setattr(telemetry, "_gauges", set())
    monkeypatch.setattr(health, "_snapshots", {})
    make_account(sub="a")
    make_account(sub="b", status="reconnect_required", reconnect_reason="revoked")

    assert health.register_accounts_gauge() is True

    assert sorted(points("google_connect.accounts"), key=str) == [
        ({"google_connect.status": "active"}, 1),
        ({"google_connect.status": "reconnect_required"}, 1),
    ]


def test_the_accounts_snapshot_is_reused_within_a_minute(django_assert_num_queries, monkeypatch):
    from google_connect.store import health

    monkeypatch.setattr(health, "_snapshots", {})
    health.accounts_by_status()
    make_account(sub="a")

    with django_assert_num_queries(0):
        assert health.accounts_by_status()["active"] == 0
