"""The connect-at-latency comparison as an SVG bar chart (matplotlib, ``bench`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.report import ID_TOKEN

ORDER = ("google_connect", ID_TOKEN, "django-allauth", "social-app-django")

CHART = Path(__file__).with_name("connect-latency.svg")


def draw(latency: dict[str, Any], path: Path = CHART) -> Path:
    """Bars of ms per connect flow, each split into Google's round trips and the rest."""
    import matplotlib

    matplotlib.use("Agg")  # no display; before pyplot is imported
    import matplotlib.pyplot as plt

    # Stable output: the same figures give the same file.
    matplotlib.rcParams["svg.hashsalt"] = "google_connect"
    matplotlib.rcParams["svg.fonttype"] = "none"
    delay = latency["_delay_ms"]
    # The libraries only, google_connect first: the Django floor is the table's
    # yardstick, not a bar.
    names = [name for name in ORDER if name in latency]
    waiting = [latency[name]["round_trips"] * delay for name in names]
    # Everything else: the library's own work, Django's and the test client's.
    rest = [latency[name]["median_ms"] - wait for name, wait in zip(names, waiting, strict=True)]

    figure, axes = plt.subplots(figsize=(7.5, 3.6))
    rows = list(range(len(names)))[::-1]
    axes.barh(rows, waiting, color="#9bb8d9", label="waiting for Google (round trips × RTT)")
    axes.barh(rows, rest, left=waiting, color="#2b6cb0", label="beyond the round trips")
    for row, name, wait, mine in zip(rows, names, waiting, rest, strict=True):
        trips = latency[name]["round_trips"]
        axes.text(
            wait + mine + 2,
            row,
            f"{wait + mine:.0f} ms, {trips:g} round trip{'s' if trips != 1 else ''}",
            va="center",
            fontsize=9,
        )
    axes.set_yticks(rows, names)
    axes.set_xlabel("median ms per connect flow")
    axes.set_xlim(0, max(w + o for w, o in zip(waiting, rest, strict=True)) * 1.45)
    axes.set_title(f"One connect flow with Google {delay:.0f} ms away (SQLite)", fontsize=11)
    axes.legend(loc="upper center", bbox_to_anchor=(0.4, -0.2), ncol=2, fontsize=8, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path
