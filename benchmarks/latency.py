"""The connect flow at Google's latency: where users feel the cost.

The flow of ``benchmarks.flows`` (a start request, then the callback), with
every faked answer from Google delayed by a fixed round-trip time (50 ms by
default, spent busy: see ``harness.round_trip``). Google answers in-process, so
each delay is a round trip and nothing else: the figure is the library's own
time plus its round trips.
Reported per library: the median ms per flow, the round trips to Google, the
time beyond them (median − round trips × delay), and its own time: the time
beyond them less that of the Django floor waiting as many round trips, measured
in the same run.

Run as ``python -m benchmarks.latency '{"flows": 100, "delay": 0.05}'``
(settings: ``benchmarks.peer_settings``); it prints one JSON object.
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks import flows, harness
from benchmarks.report import ID_TOKEN, waiting_floor

# The Django floors measure the machine itself in the same run (on a shared,
# loaded machine every library's own time stretches with it), waiting out 0, 1
# or 2 round trips as the libraries do.
FLOORS = [waiting_floor(round_trips) for round_trips in (0, 1, 2)]
LIBRARIES = [*FLOORS, "google_connect", ID_TOKEN, "django-allauth", "social-app-django"]


def main(options: dict[str, Any]) -> dict[str, Any]:
    delay = options["delay"]
    result = flows.run(options["flows"], delay, LIBRARIES)
    for figures in result.values():
        figures["beyond_ms"] = figures["median_ms"] - figures["round_trips"] * delay * 1000
    # A library's own time: beyond its round trips, less what the floor that
    # waits as many round trips costs beyond them (the test client, middleware,
    # session and login, and what the waits cost beyond their length: alike
    # for every library).
    # Beside it, the time above the floor that waits none: the report's measure
    # until the waiting floors came, kept so that both can be read.
    no_wait = result[FLOORS[0]]["beyond_ms"]
    for figures in result.values():
        floor = result.get(waiting_floor(round(figures["round_trips"])))
        figures["own_ms"] = None if floor is None else figures["beyond_ms"] - floor["beyond_ms"]
        figures["above_floor_ms"] = figures["beyond_ms"] - no_wait
    result["_delay_ms"] = delay * 1000
    result["_database"] = {"vendor": "sqlite", "version": flows.database_version()}
    return result


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.peer_settings")
    harness.run(main)
