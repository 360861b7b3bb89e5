"""The opt-in gauge of time-limited grants ending within 1, 7 and 30 days."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.checks import run_checks
from django.utils import timezone
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from google_connect.google import telemetry
from google_connect.store import health
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_snapshot(monkeypatch):
    monkeypatch.setattr(health, "_ending_snapshots", {})


@pytest.fixture
def reader(monkeypatch):
    """A meter of the test's own: a gauge registered on the process's global
    meter would be read, and run its query, in every later test."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(telemetry, "_meter", provider.get_meter("google_connect"))
    monkeypatch.setattr(telemetry, "_gauges", set())
    yield reader
    provider.shutdown()


def gauge_points(reader):
    return sorted(
        (
            (dict(point.attributes), point.value)
            for resource in reader.get_metrics_data().resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "google_connect.grants_ending"
            for point in metric.data.data_points
        ),
        key=str,
    )


def some_grants(now):
    day = timedelta(days=1)
    make_account(sub="a", refresh_token_expires_at=now + day / 2)
    make_account(sub="b", refresh_token_expires_at=now + 3 * day)
    make_account(sub="c", authorization_expires_at=now + 20 * day)
    make_account(sub="d", refresh_token_expires_at=now + 40 * day)
    make_account(sub="e", refresh_token_expires_at=now - day)
    make_account(
        sub="f",
        refresh_token_expires_at=now + 2 * day,
        status="reconnect_required",
        reconnect_reason="revoked",
    )
    # Ends at the earlier of its two columns.
    make_account(
        sub="g", refresh_token_expires_at=now + 25 * day, authorization_expires_at=now + 5 * day
    )
    # Ended yesterday, whatever its other column says.
    make_account(
        sub="h", refresh_token_expires_at=now - day, authorization_expires_at=now + 3 * day
    )
    make_account(sub="no-end")


def test_grants_are_counted_by_the_earlier_of_their_two_ends(django_assert_num_queries):
    now = timezone.now()
    some_grants(now)

    with django_assert_num_queries(1):
        counts = health.grants_ending(now=now)

    assert counts == {1: 1, 7: 3, 30: 4}
    # The same grants as check_google_accounts' "expiring" (EXPIRY_WARNING_DAYS 7).
    assert counts[7] == health.expiring_accounts(now).count()


def test_the_counts_come_from_a_snapshot_at_most_a_minute_old(
    monkeypatch, django_assert_num_queries
):
    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])
    health.grants_ending()
    make_account(sub="a", refresh_token_expires_at=timezone.now() + timedelta(hours=1))

    clock[0] += 59
    with django_assert_num_queries(0):
        cached = health.grants_ending()
    clock[0] += 2
    fresh = health.grants_ending()

    assert (cached[1], fresh[1]) == (0, 1)


def test_the_gauge_reports_each_window(reader):
    some_grants(timezone.now())

    assert health.register_grants_ending_gauge() is True
    assert health.register_grants_ending_gauge() is False  # once per process

    assert gauge_points(reader) == [
        ({"google_connect.within_days": "1"}, 1),
        ({"google_connect.within_days": "30"}, 4),
        ({"google_connect.within_days": "7"}, 3),
    ]


def test_the_setting_registers_the_gauge_when_the_app_is_ready(settings, reader):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "GRANTS_ENDING_GAUGE": True}
    make_account(sub="a", refresh_token_expires_at=timezone.now() + timedelta(hours=1))

    apps.get_app_config("google_connect").ready()

    assert telemetry._gauges == {"google_connect.grants_ending"}
    assert ({"google_connect.within_days": "1"}, 1) in gauge_points(reader)


def test_the_gauge_is_off_by_default(reader):
    apps.get_app_config("google_connect").ready()

    assert telemetry._gauges == set()


def _found(settings, **config):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, **config}
    return [(m.id, m.msg) for m in run_checks() if m.id.startswith("google_connect.")]


def test_the_setting_must_be_a_boolean(settings):
    assert _found(settings, GRANTS_ENDING_GAUGE=1) == [
        ("google_connect.E135", "GOOGLE_CONNECT['GRANTS_ENDING_GAUGE'] must be True or False.")
    ]


def test_the_setting_without_opentelemetry_is_a_check_warning(settings, monkeypatch):
    from google_connect import checks

    real_find_spec = checks.importlib.util.find_spec
    monkeypatch.setattr(
        checks.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "opentelemetry" else real_find_spec(name, *args),
    )

    assert _found(settings, GRANTS_ENDING_GAUGE=True) == [
        (
            "google_connect.W131",
            "GOOGLE_CONNECT['GRANTS_ENDING_GAUGE'] is True, but opentelemetry-api is not "
            "installed.",
        )
    ]
