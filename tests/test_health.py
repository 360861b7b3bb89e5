"""The health endpoint: who may see it, what it says, and when it answers 503."""

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from google_connect.models import DailyCount, GoogleAccount
from google_connect.store import activity
from google_connect.store.rotation import record_undecryptable
from google_connect.web import health
from tests.factories import make_account

pytestmark = pytest.mark.django_db

TOKEN = "health-token-0123456789-abcdefghijklmnop"
URL = "/google/health"


@pytest.fixture(autouse=True)
def fresh_snapshot(monkeypatch):
    monkeypatch.setattr(health, "_snapshots", {})


@pytest.fixture
def with_token(settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "HEALTH_TOKEN": TOKEN}
    return settings


def thresholds(settings, **limits):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "HEALTH_THRESHOLDS": limits}


def test_the_url_is_named_health():
    assert reverse("google_connect:health") == URL


def test_an_anonymous_request_gets_404(client, with_token):
    assert client.get(URL).status_code == 404


def test_a_wrong_bearer_token_gets_404(client, with_token):
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN[:-1] + "x").status_code == 404


def test_a_bearer_token_is_refused_when_none_is_set(client):
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_a_logged_in_user_who_is_not_staff_gets_404(alice):
    assert alice.get(URL).status_code == 404


def test_the_right_bearer_token_gets_the_figures(client, with_token):
    make_account(sub="a")
    make_account(
        sub="b", status=GoogleAccount.Status.RECONNECT_REQUIRED, reconnect_reason="revoked"
    )

    response = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert body["accounts"] == 2
    assert body["by_status"] == {"active": 1, "reconnect_required": 1}
    assert body["by_reason"]["revoked"] == 1
    assert body["undecryptable"] == {"count": 0, "ids": []}
    assert body["pending_revocations"]["count"] == 0
    assert "undecryptable_ids" not in body["pending_revocations"]
    assert body["token_endpoint"] == {"last_success": None, "age_seconds": None}
    assert body["risc"] == {"last_event": None, "age_seconds": None}


def test_a_second_request_within_the_minute_runs_no_query(client, with_token, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])
    make_account(sub="a")
    first = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN).json()
    make_account(sub="b")

    clock[0] += 59
    with CaptureQueriesContext(connection) as within_the_minute:
        cached = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN).json()
    clock[0] += 2
    fresh = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN).json()

    assert len(within_the_minute) == 0
    assert cached == first
    assert cached["accounts"] == 1
    assert cached["taken_at"] == first["taken_at"]
    assert fresh["accounts"] == 2
    assert fresh["taken_at"] > first["taken_at"]


def test_a_reply_lists_at_most_100_undecryptable_ids_and_counts_them_all(client, with_token):
    for n in range(101):
        make_account(sub=f"lost-{n}")
    ids = sorted(GoogleAccount.objects.values_list("pk", flat=True))
    record_undecryptable("default", ids, among=None)

    body = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN).json()

    assert body["undecryptable"] == {"count": 101, "ids": ids[:100]}


def test_a_staff_user_sees_it_without_a_token(admin_client):
    assert admin_client.get(URL).status_code == 200


def test_undecryptable_comes_from_the_stored_flag_not_from_decrypting(client, with_token):
    account = make_account(sub="a")
    record_undecryptable("default", [account.pk], among=None)

    response = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN)

    # The token decrypts fine; the flag alone says otherwise.
    assert response.json()["undecryptable"] == {"count": 1, "ids": [account.pk]}
    assert response.status_code == 503
    assert response.json()["failing"] == ["undecryptable"]


def test_the_last_token_endpoint_call_is_reported(client, with_token):
    activity.increment(DailyCount.Kind.REFRESHES, "default")

    body = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN).json()

    assert body["token_endpoint"]["age_seconds"] == 0
    assert body["token_endpoint"]["last_success"] == (DailyCount.objects.get().last_at.isoformat())


def test_reconnect_required_over_its_threshold_answers_503(client, with_token):
    thresholds(with_token, reconnect_required=0)
    make_account(
        sub="b", status=GoogleAccount.Status.RECONNECT_REQUIRED, reconnect_reason="revoked"
    )

    response = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN)

    assert response.status_code == 503
    assert response.json()["failing"] == ["reconnect_required"]


def test_an_age_threshold_fails_when_nothing_was_ever_seen(client, with_token):
    thresholds(with_token, token_endpoint_age=3600)

    response = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN)

    assert (response.status_code, response.json()["failing"]) == (503, ["token_endpoint_age"])


def test_an_old_risc_event_fails_its_threshold(client, with_token):
    thresholds(with_token, risc_event_age=60)
    DailyCount.objects.create(
        day=timezone.localdate(),
        kind="security_events",
        count=1,
        last_at=timezone.now() - timedelta(minutes=5),
    )

    response = client.get(URL, HTTP_AUTHORIZATION="Bearer " + TOKEN)

    assert response.json()["failing"] == ["risc_event_age"]


def _ids(settings, **config):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, **config}
    return [m.id for m in run_checks() if m.id.startswith("google_connect.")]


def test_a_short_health_token_is_a_check_error(settings):
    assert _ids(settings, HEALTH_TOKEN="short") == ["google_connect.E130"]


def test_health_thresholds_must_be_a_dict(settings):
    assert _ids(settings, HEALTH_THRESHOLDS=[1]) == ["google_connect.E131"]


def test_an_unknown_health_threshold_is_a_check_error(settings):
    assert _ids(settings, HEALTH_THRESHOLDS={"accounts": 3}) == ["google_connect.E132"]


def test_a_negative_health_threshold_is_a_check_error(settings):
    assert _ids(settings, HEALTH_THRESHOLDS={"undecryptable": -1}) == ["google_connect.E133"]


def test_accounts_gauge_must_be_a_boolean(settings):
    assert _ids(settings, ACCOUNTS_GAUGE="yes") == ["google_connect.E134"]


@pytest.fixture
def without_opentelemetry(monkeypatch):
    """As if the otel extra were not installed, for the checks' look-up."""
    from google_connect import checks

    real_find_spec = checks.importlib.util.find_spec
    monkeypatch.setattr(
        checks.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "opentelemetry" else real_find_spec(name, *args),
    )


def test_accounts_gauge_without_opentelemetry_is_a_check_warning(settings, without_opentelemetry):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "ACCOUNTS_GAUGE": True}

    found = [(m.id, m.msg, m.hint) for m in run_checks() if m.id.startswith("google_connect.")]

    assert found == [
        (
            "google_connect.W130",
            "GOOGLE_CONNECT['ACCOUNTS_GAUGE'] is True, but opentelemetry-api is not installed.",
            "pip install 'google-connect[otel]', or leave ACCOUNTS_GAUGE unset.",
        )
    ]


def test_no_gauge_asks_for_no_opentelemetry(settings, without_opentelemetry):
    assert _ids(settings, ACCOUNTS_GAUGE=False) == []


def test_accounts_gauge_with_opentelemetry_installed_is_no_warning(settings):
    assert _ids(settings, ACCOUNTS_GAUGE=True) == []
