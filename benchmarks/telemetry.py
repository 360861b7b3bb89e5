"""What OpenTelemetry costs per refresh: without the API, with the API alone, with the SDK.

Each configuration refreshes one account against a stand-in Google on
127.0.0.1 that answers at once (``tests/stub_google.py``, in this process),
in a process of its own (``benchmarks.telemetry_worker``), in-memory SQLite,
so the figures are the library's work and little else. The configurations
take turns for ``rounds`` rounds, each round in another order; a figure is
the median over the rounds of each process's median. CPU is the calling
thread's (``time.thread_time()``): the refresh's own work, the SDK's span
processing and metric aggregation included, the stand-in's excluded.

Run as ``python -m benchmarks.telemetry '{"rounds": 3, "refreshes": 2000, "warm": 200}'``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.telemetry_worker import MODES
from tests.stub_google import StubGoogle

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("median_us", "p90_us", "cpu_median_us", "cpu_mean_us")


def run_worker(mode: str, options: dict[str, Any], token_url: str) -> dict[str, Any]:
    completed = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "benchmarks.telemetry_worker",
            json.dumps({"mode": mode, "refreshes": options["refreshes"], "warm": options["warm"]}),
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "BENCH_TOKEN_URL": token_url,
            # In-memory SQLite: the database is the same small cost in every mode.
            "DATABASE_URL": "sqlite:///:memory:",
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        },
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise RuntimeError(f"telemetry worker ({mode}) failed (exit code {completed.returncode})")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def main(options: dict[str, Any]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with StubGoogle(token_delay=0) as stub:
        for round_number in range(options["rounds"]):
            # Each round in another order: no configuration always runs first.
            shift = round_number % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                runs[mode].append(run_worker(mode, options, stub.token_url))
        token_calls = stub.count("token")
    modes: dict[str, Any] = {}
    for mode, results in runs.items():
        modes[mode] = {figure: statistics.median(r[figure] for r in results) for figure in FIGURES}
        modes[mode]["processes"] = len(results)
        modes[mode]["max_load"] = max(r["load"] for r in results)
    sdk_runs = runs["sdk"]
    measured = options["refreshes"] * options["rounds"]
    expected_calls = (options["refreshes"] + options["warm"]) * options["rounds"] * len(MODES)
    return {
        "rounds": options["rounds"],
        "refreshes": options["refreshes"],
        "modes": modes,
        "sdk_added_us": modes["sdk"]["median_us"] - modes["api"]["median_us"],
        "sdk_added_cpu_us": modes["sdk"]["cpu_median_us"] - modes["api"]["cpu_median_us"],
        "sdk_over_absent_us": modes["sdk"]["median_us"] - modes["absent"]["median_us"],
        "api_added_us": modes["api"]["median_us"] - modes["absent"]["median_us"],
        "api_added_cpu_us": modes["api"]["cpu_median_us"] - modes["absent"]["cpu_median_us"],
        # Correctness: every refresh reached the stand-in, and the SDK saw
        # each one (an operation span and a client span; the counter).
        "token_calls": token_calls,
        "expected_token_calls": expected_calls,
        "spans_per_refresh": sum(r["spans"] for r in sdk_runs) / measured,
        "refreshes_counted": sum(r["refreshes_counted"] for r in sdk_runs),
        "expected_refreshes_counted": (options["refreshes"] + options["warm"]) * len(sdk_runs),
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})), flush=True)
