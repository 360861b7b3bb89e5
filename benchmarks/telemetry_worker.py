"""One process of the OpenTelemetry benchmark: refreshes in one configuration.

Usage: python -m benchmarks.telemetry_worker '{"mode": "sdk", "refreshes": 2000, "warm": 200}'
with BENCH_TOKEN_URL naming the stand-in Google. ``mode`` is one of

- ``absent``: ``opentelemetry`` cannot be imported, as without the ``otel`` extra;
- ``api``: opentelemetry-api importable, no SDK configured (its no-op objects);
- ``sdk``: the SDK's tracer and meter providers, spans to an in-memory
  exporter through a ``SimpleSpanProcessor`` (exported in the calling
  thread) and metrics to an in-memory reader.

A process of its own per configuration: a provider once set stays set. It
refreshes one account ``warm`` times, then ``refreshes`` times measured, and
prints the median wall and CPU time (the calling thread's) per refresh, and
what the SDK recorded.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from benchmarks import harness, seed

MODES = ("absent", "api", "sdk")
# Spans kept in memory between clears: the exporter's list must not grow with the run.
CLEAR_EVERY = 500


def configure_sdk() -> tuple[Any, Any]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return exporter, reader


def refreshes_counted(reader: Any) -> int:
    """The sum of the ``google_connect.refreshes`` counter the reader holds."""
    total = 0
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "google_connect.refreshes":
                    total += sum(point.value for point in metric.data.data_points)
    return total


def main(options: dict[str, Any]) -> dict[str, Any]:
    from google_connect.google import telemetry
    from google_connect.models import GoogleAccount

    mode = options["mode"]
    if telemetry.enabled() != (mode != "absent"):
        raise RuntimeError(f"{mode}: opentelemetry-api importable is {telemetry.enabled()}")
    exporter, reader = configure_sdk() if mode == "sdk" else (None, None)
    (account_id,) = seed.create_accounts(1, label=f"otel-{mode}")
    account = GoogleAccount.objects.get(pk=account_id)
    for _ in range(options["warm"]):
        account.refresh_access_token()
    spans = 0
    if exporter is not None:
        exporter.clear()
    wall: list[float] = []
    cpu: list[float] = []
    for n in range(options["refreshes"]):
        cpu_started = time.thread_time()
        started = time.perf_counter()
        account.refresh_access_token()
        wall.append((time.perf_counter() - started) * 1e6)
        cpu.append((time.thread_time() - cpu_started) * 1e6)
        if exporter is not None and (n + 1) % CLEAR_EVERY == 0:
            spans += len(exporter.get_finished_spans())
            exporter.clear()
    if exporter is not None:
        spans += len(exporter.get_finished_spans())
    return {
        "mode": mode,
        "refreshes": options["refreshes"],
        "median_us": statistics.median(wall),
        "p90_us": harness.percentile(wall, 0.90),
        "cpu_median_us": statistics.median(cpu),
        "cpu_mean_us": statistics.fmean(cpu),
        "spans": spans if exporter is not None else None,
        "refreshes_counted": refreshes_counted(reader) if reader is not None else None,
    }


if __name__ == "__main__":
    if json.loads(sys.argv[1])["mode"] == "absent":
        # As if the otel extra were not installed: every import of it fails.
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
    harness.run(main)
