"""Refresh under load, on PostgreSQL, against a stand-in Google on 127.0.0.1.

Hot account: PROCESSES x THREADS callers ask for the same expired account's
token at once. Many accounts: ACCOUNTS expired accounts, each asked for by
every one of PROCESSES worker processes, each process in its own random order.

Run as ``python -m benchmarks.refresh '{"accounts": 2000, ...}'``.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from benchmarks import harness, seed
from tests.processes import start_ready_workers


def start_workers(
    count: int, ids: list[int], threads: int, token_url: str
) -> list[subprocess.Popen[str]]:
    return start_ready_workers(
        "benchmarks.refresh_worker",
        [[json.dumps({"threads": threads, "ids": ids, "seed": n})] for n in range(count)],
        {"BENCH_TOKEN_URL": token_url, "DJANGO_SETTINGS_MODULE": "benchmarks.settings"},
    )


def run_workers(workers: list[subprocess.Popen[str]]) -> tuple[float, list[list[Any]]]:
    """Start every worker at once; return the wall time and every call made."""
    started = time.perf_counter()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    calls: list[list[Any]] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=1800)
        if worker.returncode != 0:
            raise RuntimeError(f"a refresh worker failed with exit code {worker.returncode}")
        result = json.loads(out.strip().splitlines()[-1])
        if result["errors"]:
            raise RuntimeError(f"refresh worker errors: {result['errors'][:3]}")
        calls.extend(result["calls"])
    return time.perf_counter() - started, calls


def hot_account(options: dict[str, Any]) -> dict[str, Any]:
    from google_connect.models import GoogleAccount

    (account_id,) = seed.create_accounts(1, expired=True, label="hot")
    delay = options["delay"]
    with harness.RecordingStub(token_delay=delay) as stub:
        workers = start_workers(
            options["processes"], [account_id], options["threads"], stub.token_url
        )
        _, calls = run_workers(workers)
        token_calls = stub.count("token")
    stored = GoogleAccount.objects.get(pk=account_id).access_token
    latencies = [seconds * 1000 for _, _, seconds in calls]
    return {
        "processes": options["processes"],
        "threads": options["threads"],
        "callers": len(calls),
        "token_calls": token_calls,
        "same_token": all(token == stored for _, token, _ in calls),
        "stored_is_new": stored in sum(stub.issued.values(), []),
        "p50_ms": harness.percentile(latencies, 0.50),
        "p99_ms": harness.percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "delay_ms": delay * 1000,
        "latency_target_ms": 1.5 * delay * 1000 + 100,
    }


def many_accounts(options: dict[str, Any]) -> dict[str, Any]:
    from google_connect.models import GoogleAccount

    count = options["accounts"]
    ids = seed.create_accounts(count, expired=True, label="many")
    with harness.RecordingStub(token_delay=options["delay"]) as stub:
        workers = start_workers(options["processes"], ids, options["threads"], stub.token_url)
        wall, calls = run_workers(workers)
        token_calls = stub.count("token")
        issued = dict(stub.issued)
    rows = dict(GoogleAccount.objects.filter(pk__in=ids).values_list("pk", "refresh_token"))
    stored = {a.pk: a.access_token for a in GoogleAccount.objects.filter(pk__in=ids)}
    newest_kept = sum(1 for pk in ids if issued.get(rows[pk], [None])[-1] == stored[pk])
    handed_out_stale = sum(1 for pk, token, _ in calls if token != stored[pk])
    return {
        "accounts": count,
        "processes": options["processes"],
        "threads": options["threads"],
        "calls": len(calls),
        "token_calls": token_calls,
        "rows_with_newest_token": newest_kept,
        "callers_given_another_token": handed_out_stale,
        "wall_s": wall,
        "refreshes_per_s": token_calls / wall,
        "delay_ms": options["delay"] * 1000,
    }


def main(options: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL (row locks across processes)"}
    return {"hot": hot_account(options["hot"]), "many": many_accounts(options["many"])}


if __name__ == "__main__":
    harness.run(main)
