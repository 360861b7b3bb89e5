"""One worker process of the refresh benchmark, with a few threads.

Usage: python -m benchmarks.refresh_worker '{"threads": 4, "ids": [...], "seed": 1}'
with DATABASE_URL naming the benchmark's database and BENCH_TOKEN_URL the
stand-in Google. Every thread opens its own database connection, then the
process prints ``ready`` and waits for a line on stdin, so all processes start
together. The threads share the process's list of account ids (shuffled with
``seed``) and call ``get_access_token()`` on each; with one id, every thread
asks for that same account. The process prints one JSON object: each call's
account id, token and seconds.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from typing import Any


def main() -> None:
    options = json.loads(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()
    from django.db import connection

    from google_connect.models import GoogleAccount

    ids: list[int] = list(options["ids"])
    random.Random(options["seed"]).shuffle(ids)
    hot = len(ids) == 1
    queue = iter(ids)
    queue_lock = threading.Lock()
    threads = options["threads"]
    connected = threading.Barrier(threads + 1)
    go = threading.Event()
    calls: list[tuple[int, str, float]] = []
    errors: list[str] = []

    def next_id() -> int | None:
        with queue_lock:
            return next(queue, None)

    def work() -> None:
        try:
            connection.ensure_connection()
            # The hot account is loaded before the start, as a caller holding
            # an expired instance would have it.
            preloaded = GoogleAccount.objects.get(pk=ids[0]) if hot else None
            connected.wait()
            go.wait()
            while True:
                pk = ids[0] if hot else next_id()
                if pk is None:
                    break
                started = time.perf_counter()
                account = preloaded or GoogleAccount.objects.get(pk=pk)
                token = account.get_access_token()
                calls.append((pk, token, time.perf_counter() - started))
                if hot:
                    break
        except Exception as exc:  # reported to the driver, which fails the run
            errors.append(f"{type(exc).__name__}: {exc}")
            connected.abort()
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    connected.wait()
    print("ready", flush=True)
    sys.stdin.readline()
    go.set()
    for worker in workers:
        worker.join()
    result: dict[str, Any] = {"calls": calls, "errors": errors}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
