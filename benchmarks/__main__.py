"""Run every benchmark, print the figures, and write ``benchmarks/results.md``.

    python -m benchmarks            # full size (make bench), writes results.md
    python -m benchmarks --smoke    # tiny sizes (make bench-smoke, CI), writes nothing
    python -m benchmarks --only latency,connections   # these again; the rest from results.json
    python -m benchmarks --only celery_scale --accounts 2000   # Celery scaling, smaller

Each benchmark runs in its own process (Django is configured once per process,
and peak memory must be the benchmark's own). PostgreSQL comes from
``BENCH_DATABASE_URL``, else ``DATABASE_URL``, else the README's local server;
every benchmark works in its own throwaway test database there.

A full run also keeps its raw figures in ``benchmarks/results.json`` and draws
the connect-at-latency chart (``benchmarks/connect-latency.svg``) and the
Celery scaling chart (``benchmarks/celery_scaling.svg``).

The exit status is non-zero when a benchmark crashed or a correctness check
failed (a second refresh, a lost update, a failed revocation, plaintext
tokens, a security event not accepted). Timing and memory targets are reported, never fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import celery_report, chart, markdown, report

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/google_connect"

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "flows": {"flows": 300},
        "latency": {"flows": 100},
        "connections": {"calls": 1000},
        "changelist": {"sizes": [10, 100, 10_000], "renders": 20},
        "refresh": {
            "hot": {"processes": 8, "threads": 4},
            "many": {"accounts": 2_000, "processes": 8, "threads": 4},
        },
        "revoke": {"runs": [[10_000, 32], [500, 1]], "delay": 0.05},
        "rotation": {"rows": 1_000_000},
        "bulk_refresh": {
            "accounts": 20_000,
            "runs": [["concurrency", 64], ["concurrency", 256], ["workers", 32]],
        },
        "risc": {"events": 2_000},
        "telemetry": {"rounds": 3, "refreshes": 2_000, "warm": 200},
        "telemetry_hooks": {"rounds": 5, "batches": 50, "calls": 2_000, "warm": 2_000},
        "overview": {"sizes": [1_000, 1_000_000], "renders": 30},
        "celery_scale": {
            "accounts": 20_000,
            "processes": [1, 2, 4],
            "concurrency": 8,
            "chunk_size": 50,
            # The async engine inside each task: one task at a time per
            # worker process, a chunk of 500 with 64 calls in flight.
            "async": {"bulk_concurrency": 64, "chunk_size": 500, "concurrency": 1},
        },
    },
    "smoke": {
        "flows": {"flows": 5},
        "latency": {"flows": 3},
        "connections": {"calls": 20},
        "changelist": {"sizes": [3, 30], "renders": 2},
        "refresh": {
            "hot": {"processes": 2, "threads": 2},
            "many": {"accounts": 20, "processes": 2, "threads": 2},
        },
        "revoke": {"runs": [[40, 8], [5, 1]], "delay": 0.01},
        "rotation": {"rows": 30},
        "bulk_refresh": {"accounts": 40, "runs": [["concurrency", 8], ["workers", 4]]},
        "risc": {"events": 20},
        "telemetry": {"rounds": 1, "refreshes": 20, "warm": 5},
        "telemetry_hooks": {"rounds": 1, "batches": 2, "calls": 20, "warm": 5},
        "overview": {"sizes": [100, 1_000], "renders": 3},
        "celery_scale": {
            "accounts": 40,
            "processes": [1, 2],
            "concurrency": 2,
            "chunk_size": 10,
            "async": {"bulk_concurrency": 8, "chunk_size": 20, "concurrency": 1},
        },
    },
}


def run_benchmark(module: str, options: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module>`` and return the JSON object it prints last."""
    started = time.perf_counter()
    ran = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": os.getloadavg()[0]}
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", f"benchmarks.{module}", json.dumps(options)],
        cwd=REPO_ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise RuntimeError(f"benchmarks.{module} failed (exit code {completed.returncode})")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["_seconds"] = time.perf_counter() - started
    # When, and how loaded the shared machine was: with --only, the sections of
    # results.md come from different passes.
    result["_ran"] = {**ran, "load_after": os.getloadavg()[0]}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; write no results.md")
    parser.add_argument(
        "--delay",
        type=float,
        default=None,
        help="seconds the stand-in token endpoint waits (default 0.2; 0.02 with --smoke)",
    )
    parser.add_argument(
        "--rtt",
        type=float,
        default=0.05,
        help="seconds each faked Google answer waits in the latency benchmark (default 0.05)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated benchmarks to run; the others' figures come from results.json",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=None,
        help="accounts for celery_scale (default 20000; 40 with --smoke)",
    )
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).with_name("results.md"), help="results file"
    )
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "full"
    sizes = SIZES[mode]
    delay = args.delay if args.delay is not None else (0.02 if args.smoke else 0.2)
    for part in sizes["refresh"].values():
        part["delay"] = delay
    sizes["latency"]["delay"] = args.rtt
    sizes["celery_scale"]["delay"] = delay
    sizes["bulk_refresh"]["delay"] = delay
    if args.accounts is not None:
        sizes["celery_scale"]["accounts"] = args.accounts
    only = {name for name in args.only.split(",") if name}
    postgres = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
        "DATABASE_URL", DEFAULT_POSTGRES
    )
    sqlite = {"DATABASE_URL": "sqlite:///:memory:"}
    pg = {"DATABASE_URL": postgres}
    peers = {"DJANGO_SETTINGS_MODULE": "benchmarks.peer_settings"}
    alone = {"DJANGO_SETTINGS_MODULE": "benchmarks.settings"}

    machine_before = report.machine()
    plan = [
        ("flows", "sqlite", {**sqlite, **peers}),
        ("flows", "postgresql", {**pg, **peers}),
        ("latency", "sqlite", {**sqlite, **peers}),
        ("connections", "https", {**sqlite, **alone}),
        ("changelist", "sqlite", {**sqlite, **alone}),
        ("changelist", "postgresql", {**pg, **alone}),
        ("refresh", "postgresql", {**pg, **alone}),
        ("revoke", "postgresql", {**pg, **alone}),
        ("rotation", "postgresql", {**pg, **alone}),
        ("bulk_refresh", "postgresql", {**pg, **alone}),
        ("risc", "sqlite", {**sqlite, **alone}),
        ("risc", "postgresql", {**pg, **alone}),
        # Its own processes, one per configuration, each on in-memory SQLite.
        ("telemetry", "sqlite", {**sqlite, **alone}),
        # No Django and no database: the hooks alone, a process per configuration.
        ("telemetry_hooks", "in-process", {}),
        ("overview", "postgresql", {**pg, **alone}),
        ("celery_scale", "postgresql", {**pg, **alone}),
    ]
    unknown = only - {module for module, _, _ in plan}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    raw = args.output.with_suffix(".json")
    results: dict[str, dict[str, Any]] = {}
    if only and not args.smoke and raw.exists():
        results = {k: v for k, v in json.loads(raw.read_text()).items() if k not in only}
    print(f"== benchmarks ({mode} size)", flush=True)
    for module, database, env in plan:
        if only and module not in only:
            continue
        print(f"-- {module} on {database} ...", flush=True)
        result = run_benchmark(module, sizes[module], env)
        results.setdefault(module, {})[database] = result
        describe = (
            celery_report.describe(result)
            if module == "celery_scale"
            else report.describe(module, database, result)
        )
        for line in describe:
            print(f"   {line}", flush=True)

    celery = results.get("celery_scale", {}).get("postgresql")
    celery_checks = celery_report.targets(celery) if celery else []
    checks = report.targets(results) + celery_checks
    print("== targets", flush=True)
    for check in checks:
        print(f"   {check.verdict:4} {check.name}: {check.measured} (target {check.target})")
    latency = results.get("latency", {}).get("sqlite")
    if not args.smoke:
        machine = {**machine_before, "load_after": report.machine()["load_before"]}
        if only:
            machine["only"] = sorted(only)
        previous = args.output.read_text() if args.output.exists() else ""
        text = markdown.render(machine, results, checks, sizes)
        # Its section names the machine's date and load: written only by the
        # pass that ran it, kept as it was by a pass with --only that did not.
        rerun = celery is not None and "celery_scale" in (only or {"celery_scale"})
        kept = None if rerun else celery_report.section_in(previous)
        if kept:
            text = celery_report.splice(text, kept)
        elif celery:
            text = celery_report.splice(text, celery_report.section(celery, celery_checks, machine))
            if rerun and "skipped" not in celery:
                celery_report.chart(celery, args.output.with_name(celery_report.CHART))
        # After the Celery section, which the splice above appends.
        text = text.rstrip() + "\n\n" + markdown.after_celery(results)
        args.output.write_text(text)
        raw.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(f"== wrote {args.output} and {raw.name}")
        if latency:
            print(f"== drew {chart.draw(latency)}")
    elif latency:
        # CI checks that the chart can be drawn, and keeps nothing.
        with tempfile.TemporaryDirectory() as directory:
            chart.draw(latency, Path(directory) / "chart.svg")
    broken = [c for c in checks if c.fatal and not c.passed]
    if broken:
        print(f"== {len(broken)} correctness check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
