"""What every benchmark process shares: Django in a throwaway test database,
one JSON object on the last line of stdout, and a stand-in Google that
remembers what it issued."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.stub_google import StubGoogle


def run(body: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Call ``body(options)`` inside a fresh test database; print its result as JSON.

    ``options`` is the JSON object given as the first command-line argument.
    """
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()
    from django.db import connection

    # autoclobber: a run that was killed leaves its test database behind.
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        result = body(options)
    finally:
        connection.close()
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
    print(json.dumps(result), flush=True)


class RecordingStub(StubGoogle):
    """The test suite's stand-in Google, also noting the access tokens it issued.

    ``issued[refresh_token]`` lists, oldest first, the access tokens it gave
    for that refresh token, so a benchmark can check that every row ends
    with the newest one.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.issued: dict[str, list[str]] = {}
        self._issued_lock = threading.Lock()

    def answer(self, endpoint: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        status, body = super().answer(endpoint, form)
        if endpoint == "token" and status == 200:
            with self._issued_lock:
                self.issued.setdefault(form.get("refresh_token", ""), []).append(
                    str(body["access_token"])
                )
        return status, body


# CPU time spent in round_trip() by this process's (one) flow thread: taken
# off each flow's CPU time, which is meant to be the library's own. Here, not
# in flows.py, which also runs as __main__ (a second copy, a second counter).
_round_trip_cpu = 0.0


def round_trip(seconds: float) -> None:
    """Wait as a round trip to Google does, keeping the CPU busy meanwhile.

    Not ``time.sleep()``: on this machine a CPU left idle for 50 ms slows
    down, and everything run after it, Django's own views included, took up to
    half as long again from run to run (the Django floor that never waits
    went from 2.8 to 4.3 ms). A server at work spends a round trip on other
    requests; a busy wait keeps the CPU as warm and measures each library's
    work, not the machine's power saving. The Django floors wait the same way.
    """
    global _round_trip_cpu
    cpu_started = time.thread_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass
    _round_trip_cpu += time.thread_time() - cpu_started


def round_trip_cpu() -> float:
    """The CPU time ``round_trip()`` has spent so far in this process."""
    return _round_trip_cpu


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil(n * fraction)
    return ordered[int(rank) - 1]
