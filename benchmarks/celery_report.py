"""The Celery scaling benchmark's lines, target checks, results.md section and SVG chart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.report import Check

CHART = "celery_scaling.svg"
BEGIN, END = "<!-- celery-scale:begin -->", "<!-- celery-scale:end -->"
TARGET_RATIO_PER_PROCESS = 0.75  # 4 processes: at least 3x the rate of 1
FLAT_MEMORY = 1.25  # the largest worker peak at most 1.25x the smallest


def _base_rate(result: dict[str, Any]) -> float:
    runs = result["runs"]
    return next(
        (r["accounts_per_s"] for r in runs if r["processes"] == 1), runs[0]["accounts_per_s"]
    )


def describe(result: dict[str, Any]) -> list[str]:
    if "skipped" in result:
        return [f"skipped: {result['skipped']}"]
    base = _base_rate(result)
    return [
        f"{r['processes']} worker process(es) x {result['concurrency']} threads: "
        f"{r['accounts_per_s']:.1f} accounts/s ({r['accounts_per_s'] / base:.2f}x 1 process), "
        f"{r['token_calls']} token calls for {result['accounts']} accounts, "
        f"{r['duplicated']} duplicated, VmHWM {', '.join(f'{m:g}' for m in r['vmhwm_mib'])} MiB"
        for r in result["runs"]
    ]


def targets(result: dict[str, Any]) -> list[Check]:
    if "skipped" in result:
        return [Check("Celery refresh", "not run", result["skipped"], True, False, skipped=True)]
    n, runs, base = result["accounts"], result["runs"], _base_rate(result)
    checks = [
        Check(
            f"Celery refresh, {r['processes']} process(es): stand-in calls / duplicated / "
            "rows refreshed",
            f"{r['token_calls']} / {r['duplicated']} / {r['refreshed_rows']}",
            f"{n} / 0 / {n}",
            r["token_calls"] == n and r["duplicated"] == 0 and r["refreshed_rows"] == n,
            True,
        )
        for r in runs
    ]
    most = max(runs, key=lambda r: r["processes"])
    if most["processes"] > 1:
        wanted = TARGET_RATIO_PER_PROCESS * most["processes"]
        ratio = most["accounts_per_s"] / base
        checks.append(
            Check(
                f"Celery refresh: {most['processes']} processes vs 1 ({n} accounts)",
                f"{ratio:.2f}×",
                f"≥ {wanted:g}×",
                ratio >= wanted,
                False,
            )
        )
    peaks = [m for r in runs for m in r["vmhwm_mib"]]
    checks.append(
        Check(
            "Celery refresh: worker VmHWM, smallest → largest",
            f"{min(peaks):g} → {max(peaks):g} MiB",
            f"flat (≤ {FLAT_MEMORY:g}× the smallest)",
            max(peaks) <= FLAT_MEMORY * min(peaks),
            False,
        )
    )
    return checks


def chart(result: dict[str, Any], path: Path) -> None:
    """Accounts/s against worker processes, with the ideal linear line, as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    runs = sorted(result["runs"], key=lambda r: r["processes"])
    processes = [r["processes"] for r in runs]
    rates = [r["accounts_per_s"] for r in runs]
    base = _base_rate(result)
    figure, axes = pyplot.subplots(figsize=(6, 4))
    axes.plot(processes, [base * p for p in processes], "--", color="grey", label="ideal (linear)")
    axes.plot(processes, rates, "o-", label="measured")
    for p, rate in zip(processes, rates, strict=True):
        axes.annotate(f"{rate:.0f}", (p, rate), textcoords="offset points", xytext=(0, 6))
    axes.set_xticks(processes)
    axes.set_xlabel(f"worker processes (threads pool, concurrency {result['concurrency']})")
    axes.set_ylabel("accounts refreshed per second")
    axes.set_title(
        f"refresh_expiring: {result['accounts']} accounts, {result['delay_ms']:.0f} ms stand-in"
    )
    axes.set_ylim(bottom=0)
    axes.legend()
    figure.tight_layout()
    # A fixed hash salt and no date: the same figures give the same file.
    matplotlib.rcParams["svg.hashsalt"] = "google_connect"
    figure.savefig(path, format="svg", metadata={"Date": None})
    pyplot.close(figure)


def section(result: dict[str, Any], checks: list[Check], machine: dict[str, Any]) -> str:
    out = [BEGIN, "## 8. Proactive refresh on Celery workers (PostgreSQL, Redis)", ""]
    if "skipped" in result:
        return "\n".join([*out, f"Skipped: {result['skipped']}.", "", END])
    base = _base_rate(result)
    out += [
        f"`google_connect.refresh_expiring` fans {result['accounts']} expired accounts out into "
        f"`refresh_accounts` chunks of {result['chunk_size']}, run by 1, 2 and 4 `celery worker` "
        f"processes (**threads pool**, concurrency {result['concurrency']} each, prefetch 1, "
        "Redis as broker and result backend) against PostgreSQL; the stand-in token endpoint "
        f"on 127.0.0.1 answers after {result['delay_ms']:.0f} ms. Threads, not prefork: the "
        "work is waiting on Google and the row lock, a thread per slot is enough, and each "
        "worker stays one process whose own peak memory (VmHWM) is the worker's. Time runs "
        "from `refresh_expiring.delay()` to the last chunk's stored result.",
        "",
        f"Measured on {machine['when']}, {machine['cores']} cores, load average before "
        f"{machine['load_before']}; the machine is shared with other jobs, so the rates "
        "stretch with their load.",
        "",
        "| worker processes | wall s | accounts/s | vs 1 process | ideal | stand-in calls | "
        "duplicated | rows refreshed | VmHWM per worker MiB | worker CPU ms/account |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(result["runs"], key=lambda r: r["processes"]):
        out.append(
            f"| {r['processes']} | {r['wall_s']:.1f} | {r['accounts_per_s']:.1f} | "
            f"{r['accounts_per_s'] / base:.2f}× | {r['processes']}× | {r['token_calls']} | "
            f"{r['duplicated']} | {r['refreshed_rows']} | "
            f"{', '.join(f'{m:g}' for m in r['vmhwm_mib'])} | "
            f"{r['worker_cpu_ms_per_account']:.1f} |"
        )
    out += [
        "",
        f"![accounts refreshed per second against worker processes, with the ideal line]({CHART})",
        "",
        "| target | measured | wanted | result |",
        "|---|---|---|---|",
        *[f"| {c.name} | {c.measured} | {c.target} | {c.verdict} |" for c in checks],
        "",
        END,
    ]
    return "\n".join(out)


def section_in(text: str) -> str | None:
    """The Celery section already in ``text`` (a results.md), if any."""
    found = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), text, re.DOTALL)
    return found.group(0) if found else None


def splice(text: str, new_section: str) -> str:
    """``text`` with its Celery section replaced by ``new_section`` (appended if absent)."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: new_section, text)
    return text.rstrip() + "\n\n" + new_section + "\n"
