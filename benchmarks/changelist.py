"""The admin changelist of Google accounts at a few rows and at many.

Counts the SQL queries of one changelist page and times its render (median of
``renders`` requests) as the table grows through ``sizes``. A page shows at
most ``list_per_page`` (100) rows, so from 100 rows on the render should cost
the same however many there are.

Run as ``python -m benchmarks.changelist '{"sizes": [10, 100, 10000], "renders": 20}'``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks import harness, seed

CHANGELIST = "/admin/google_connect/googleaccount/"


def measure(client: Any, renders: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(CHANGELIST)  # warm: templates, URL resolvers, the admin's caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(CHANGELIST)
    # Read now: every request start empties the connection's query log.
    queries = len(captured)
    if response.status_code != 200:
        raise RuntimeError(f"changelist answered {response.status_code}")
    samples = []
    for _ in range(renders):
        started = time.perf_counter()
        client.get(CHANGELIST)
        samples.append((time.perf_counter() - started) * 1000)
    return {"queries": queries, "median_ms": statistics.median(samples)}


def main(options: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    admin = get_user_model().objects.create_superuser("bench-admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(admin)
    results: dict[str, Any] = {}
    rows = 0
    for size in options["sizes"]:
        seed.create_accounts(size - rows, label="admin")
        rows = size
        results[str(size)] = measure(client, options["renders"])
    return {"database": connection.vendor, "sizes": results}


if __name__ == "__main__":
    harness.run(main)
