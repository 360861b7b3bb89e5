"""What the hooks skip: the tracer fetched once, no span without a tracer provider,
no attribute set on a span that records nothing."""

import json
import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, ProxyTracerProvider

from google_connect.google import telemetry
from tests.processes import REPO_ROOT
from tests.telemetry_support import EXPORTER, READER, set_providers


@pytest.fixture(scope="module", autouse=True)
def providers():
    set_providers()


@pytest.fixture
def spans():
    EXPORTER.clear()
    READER.get_metrics_data()  # drops what earlier tests counted
    yield EXPORTER
    EXPORTER.clear()


def test_the_tracer_is_fetched_once(monkeypatch, spans):
    fetched = []
    real_get_tracer = trace.get_tracer

    def get_tracer(*args, **kwargs):
        fetched.append(args[0])
        return real_get_tracer(*args, **kwargs)

    monkeypatch.setattr(telemetry, "_tracer", None)
    monkeypatch.setattr(trace, "get_tracer", get_tracer)

    for _ in range(3):
        with (
            telemetry.operation("refresh"),
            telemetry.client_span("POST", "https://oauth2.googleapis.com/token"),
        ):
            pass

    assert fetched == ["google_connect"]
    assert len(spans.get_finished_spans()) == 6


class _NoSpans:
    def start_as_current_span(self, *args, **kwargs):
        raise AssertionError("a span was started with no tracer provider set")


def test_without_a_tracer_provider_no_span_is_started_but_durations_are_recorded(
    monkeypatch, spans
):
    # The API alone: its proxy provider. A meter provider (the test's) may
    # still be set, and gets the histogram.
    monkeypatch.setattr(trace, "get_tracer_provider", ProxyTracerProvider)
    monkeypatch.setattr(telemetry, "_tracer", _NoSpans())

    with telemetry.operation("refresh", client="default") as operation:
        operation.set("reason", "revoked")
        with telemetry.client_span("POST", "https://oauth2.googleapis.com/token") as span:
            span.set_status_code(200)

    assert spans.get_finished_spans() == ()
    durations = [
        dict(point.attributes)
        for resource in READER.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "http.client.request.duration"
        for point in metric.data.data_points
    ]
    assert durations == [
        {
            "http.request.method": "POST",
            "server.address": "oauth2.googleapis.com",
            "server.port": 443,
            "http.response.status_code": 200,
        }
    ]


class _DroppedSpan(NonRecordingSpan):
    """What an SDK hands back for a span its sampler dropped, noting what is set on it."""

    def __init__(self, calls):
        super().__init__(trace.INVALID_SPAN_CONTEXT)
        self.calls = calls

    def set_attribute(self, key, value):
        self.calls.append(key)

    def set_status(self, *args, **kwargs):
        self.calls.append("status")


class _DroppingTracer:
    def __init__(self):
        self.calls = []

    def start_as_current_span(self, *args, **kwargs):
        return trace.use_span(_DroppedSpan(self.calls), end_on_exit=True)


def test_nothing_is_set_on_a_span_that_records_nothing(monkeypatch, spans):
    dropping = _DroppingTracer()
    monkeypatch.setattr(telemetry, "_tracer", dropping)

    with pytest.raises(RuntimeError), telemetry.operation("refresh") as operation:
        operation.set_counts({"refreshed": 3, "failed": 1})
        with telemetry.client_span("POST", "https://oauth2.googleapis.com/token") as span:
            span.set_status_code(503)
        raise RuntimeError("a failure inside")

    assert dropping.calls == []


def test_a_tracer_fetched_before_the_providers_are_set_records_after(tmp_path):
    # A process of its own: OpenTelemetry lets a process set its providers once.
    script = textwrap.dedent(
        """
        import json
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from google_connect.google import telemetry

        # Before any provider: the API's proxies, kept by google_connect.
        early_tracer = telemetry.tracer()
        telemetry.count("google_connect.refreshes", outcome="success")
        with telemetry.operation("refresh"):
            pass

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

        with telemetry.operation("refresh", client="default"):
            telemetry.count("google_connect.refreshes", outcome="success")
        counted = [
            point.value
            for resource in reader.get_metrics_data().resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "google_connect.refreshes"
            for point in metric.data.data_points
        ]
        print(json.dumps({
            "same_tracer": telemetry.tracer() is early_tracer,
            "spans": [
                [span.name, dict(span.attributes)] for span in exporter.get_finished_spans()
            ],
            "counted": counted,
        }))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert json.loads(completed.stdout) == {
        "same_tracer": True,
        "spans": [["google_connect.refresh", {"google_connect.client": "default"}]],
        "counted": [1],
    }
