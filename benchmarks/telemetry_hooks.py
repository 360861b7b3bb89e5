"""What google_connect's OpenTelemetry hooks cost on their own, per refresh.

The end-to-end benchmark (``benchmarks.telemetry``) times whole refreshes,
some 5 ms each with a database and a socket in them: a difference of a few
microseconds between configurations is lost in their noise (the first runs
put the API alone anywhere between +0.4 and +0.7 ms). This one runs only the
hooks a successful refresh calls, in the order it calls them, with nothing
else around: the ``google_connect.refresh`` operation, the client name
annotated on it, the retry attempt, the CLIENT span of the POST to the token
endpoint with its status, and the ``google_connect.refreshes`` counter.

Each configuration runs in a process of its own (a provider once set stays
set): ``absent`` (opentelemetry cannot be imported, as without the ``otel``
extra), ``api`` (opentelemetry-api, no provider set) and ``sdk`` (the SDK's
providers, spans to an in-memory exporter through a ``SimpleSpanProcessor``,
metrics to an in-memory reader). A process runs the hooks ``warm`` times,
then ``batches`` batches of ``calls``, timing each batch with the thread's
CPU clock (``time.thread_time()``); its figure is the median batch's time
per refresh. The configurations take turns for ``rounds`` rounds, in a new
order each round; a configuration's figure is the median over its processes.

Run as::

    python -m benchmarks.telemetry_hooks '{"rounds": 5, "batches": 50, "calls": 2000, "warm": 2000}'

"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MODES = ("absent", "api", "sdk")
TOKEN_URL = "https://oauth2.googleapis.com/token"


def hooks_of_one_refresh(telemetry: Any) -> None:
    """The telemetry calls of one successful refresh (store/tokens.py, google/http.py)."""
    with telemetry.operation("refresh"):
        telemetry.annotate(client="default")
        with telemetry.retry_attempt(0), telemetry.client_span("POST", TOKEN_URL) as span:
            span.set_status_code(200)
        telemetry.count("google_connect.refreshes", outcome="success")


def configure_sdk() -> tuple[Any, Any]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return exporter, reader


def worker(options: dict[str, Any]) -> dict[str, Any]:
    """One process: the hooks in one configuration."""
    mode = options["mode"]
    if mode == "absent":
        # As if the otel extra were not installed: every import of it fails.
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
    from google_connect.google import telemetry

    if telemetry.enabled() != (mode != "absent"):
        raise RuntimeError(f"{mode}: opentelemetry-api importable is {telemetry.enabled()}")
    exporter, _reader = configure_sdk() if mode == "sdk" else (None, None)
    for _ in range(options["warm"]):
        hooks_of_one_refresh(telemetry)
    if exporter is not None:
        exporter.clear()
    per_refresh: list[float] = []
    spans = 0
    for _ in range(options["batches"]):
        started = time.thread_time()
        for _ in range(options["calls"]):
            hooks_of_one_refresh(telemetry)
        per_refresh.append((time.thread_time() - started) / options["calls"] * 1e6)
        if exporter is not None:
            # Outside the timing: the exporter's list must not grow with the run.
            spans += len(exporter.get_finished_spans())
            exporter.clear()
    return {
        "mode": mode,
        "cpu_median_us": statistics.median(per_refresh),
        "cpu_min_us": min(per_refresh),
        "spans": spans if exporter is not None else None,
        "load": os.getloadavg()[0],
    }


def run_worker(mode: str, options: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "benchmarks.telemetry_hooks",
            "--worker",
            json.dumps({**options, "mode": mode}),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise RuntimeError(f"hooks worker ({mode}) failed (exit code {completed.returncode})")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(options: dict[str, Any]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for round_number in range(options["rounds"]):
        shift = round_number % len(MODES)
        for mode in MODES[shift:] + MODES[:shift]:
            runs[mode].append(run_worker(mode, options))
    modes = {
        mode: {
            "cpu_median_us": statistics.median(r["cpu_median_us"] for r in results),
            "cpu_min_us": min(r["cpu_min_us"] for r in results),
            "processes": len(results),
            "max_load": max(r["load"] for r in results),
        }
        for mode, results in runs.items()
    }
    measured = options["batches"] * options["calls"] * options["rounds"]
    return {
        "rounds": options["rounds"],
        "batches": options["batches"],
        "calls": options["calls"],
        "modes": modes,
        "api_added_us": modes["api"]["cpu_median_us"] - modes["absent"]["cpu_median_us"],
        "sdk_added_us": modes["sdk"]["cpu_median_us"] - modes["api"]["cpu_median_us"],
        # Correctness: with the SDK, every refresh's hooks made their two spans.
        "spans_per_refresh": sum(r["spans"] for r in runs["sdk"]) / measured,
    }


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))), flush=True)
    else:
        print(json.dumps(main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})), flush=True)
