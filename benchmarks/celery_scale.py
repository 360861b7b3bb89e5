"""Proactive refresh on real Celery workers: how it scales with worker processes,
on either engine inside a task.

ACCOUNTS expired accounts, refreshed by ``google_connect.refresh_expiring``
(a fan-out into ``refresh_accounts`` chunks) on 1, 2, 4... ``celery worker``
processes (threads pool), against a stand-in token endpoint on 127.0.0.1
that answers after DELAY seconds. The waiting dominates, so the rate should
grow with the processes even on a 2-core machine. Each process count runs
twice:

- ``threads``: chunks of CHUNK_SIZE, CONCURRENCY threads per worker, each
  chunk's refreshes one after another (``BULK_CONCURRENCY`` None);
- ``async``: chunks of ``async.chunk_size`` on ``async.concurrency`` threads
  per worker, each chunk on the async engine with ``async.bulk_concurrency``
  calls in flight (``BULK_CONCURRENCY``).

Run as ``python -m benchmarks.celery_scale '{"accounts": 20000, ...}'``; needs
PostgreSQL and Redis (``BENCH_REDIS_URL``, default database 15, flushed
before and after each run; nothing else in Redis is touched).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks import harness, seed

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def body(options: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    from tests.celery_workers import redis_or_reason

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL (worker processes share the database)"}
    client, reason = redis_or_reason(REDIS_URL)
    if client is None:
        return {"skipped": reason}
    ids = seed.create_accounts(options["accounts"], expired=True, label="celery")
    threads = {**options, "bulk_concurrency": None}
    on_engine = {**options, **options["async"]}
    return {
        "accounts": len(ids),
        "concurrency": options["concurrency"],
        "chunk_size": options["chunk_size"],
        "delay_ms": options["delay"] * 1000,
        "pool": "threads",
        "runs": [one_run(client, ids, n, threads, "threads") for n in options["processes"]],
        "async": {
            **options["async"],
            "runs": [one_run(client, ids, n, on_engine, "async") for n in options["processes"]],
        },
    }


def one_run(
    client: Any, ids: list[int], processes: int, options: dict[str, Any], engine: str
) -> dict[str, Any]:
    from django.utils import timezone

    from google_connect import tasks
    from google_connect.models import GoogleAccount
    from tests.celery_workers import Workers, current_app, wait_for_results

    # Every account expiring again, as the previous run left them fresh.
    run_start = timezone.now()
    GoogleAccount.objects.update(expires_at=run_start - timedelta(minutes=5))
    client.flushdb()
    try:
        with (
            harness.RecordingStub(token_delay=options["delay"]) as stub,
            tempfile.TemporaryDirectory(prefix="gc-celery-bench-") as logs,
            Workers(
                count=processes,
                concurrency=options["concurrency"],
                broker_url=REDIS_URL,
                settings="benchmarks.settings",
                env={
                    "BENCH_TOKEN_URL": stub.token_url,
                    "BENCH_BULK_CONCURRENCY": str(options["bulk_concurrency"] or "none"),
                },
                log_dir=Path(logs),
            ) as workers,
            current_app(workers.app),
        ):
            started = time.perf_counter()
            fan_out = tasks.refresh_expiring.delay(chunk_size=options["chunk_size"]).get(
                timeout=600
            )
            results = wait_for_results(
                client, "google_connect.refresh_accounts", fan_out["chunks"], workers
            )
            wall = time.perf_counter() - started
            peaks = workers.peak_memory_kib()
            cpu = workers.cpu_seconds()
            token_calls = stub.count("token")
            issued = dict(stub.issued)
    finally:
        client.flushdb()
    totals = {key: sum(r[key] for r in results) for key in results[0]} if results else {}
    # A refresh stores now + 3599 s: every row refreshed during the run expires after this.
    fresh_after = run_start + timedelta(minutes=55)
    return {
        "engine": engine,
        "processes": processes,
        "wall_s": wall,
        "accounts_per_s": len(ids) / wall,
        "token_calls": token_calls,
        "duplicated": sum(1 for tokens in issued.values() if len(tokens) > 1),
        "refreshed_rows": GoogleAccount.objects.filter(expires_at__gt=fresh_after).count(),
        "counts": totals,
        "vmhwm_mib": [round(kib / 1024, 1) for kib in peaks],
        "worker_cpu_ms_per_account": 1000 * sum(cpu) / len(ids),
    }


if __name__ == "__main__":
    harness.run(body)
