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


# The async engine inside a task against the thread pool, 1 process each: a
# chunk with 64 calls in flight should beat 8 threads taking one call each.
TARGET_ASYNC_VS_THREADS = 2.0


def _base_rate(runs: list[dict[str, Any]]) -> float:
    return next(
        (r["accounts_per_s"] for r in runs if r["processes"] == 1), runs[0]["accounts_per_s"]
    )


def engines(result: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """``(engine, how it runs, runs)`` for each engine measured (threads alone
    in results from before the async engine ran inside tasks)."""
    measured = [
        (
            "threads",
            f"{result['concurrency']} threads x chunks of {result['chunk_size']}",
            result["runs"],
        )
    ]
    if "async" in result:
        on_engine = result["async"]
        measured.append(
            (
                "async",
                f"{on_engine['concurrency']} thread(s) x chunks of {on_engine['chunk_size']}, "
                f"{on_engine['bulk_concurrency']} calls in flight",
                on_engine["runs"],
            )
        )
    return measured


def describe(result: dict[str, Any]) -> list[str]:
    if "skipped" in result:
        return [f"skipped: {result['skipped']}"]
    lines = []
    for engine, how, runs in engines(result):
        base = _base_rate(runs)
        lines += [
            f"{engine}: {r['processes']} worker process(es), {how}: "
            f"{r['accounts_per_s']:.1f} accounts/s ({r['accounts_per_s'] / base:.2f}x 1 process), "
            f"{r['token_calls']} token calls for {result['accounts']} accounts, "
            f"{r['duplicated']} duplicated, VmHWM {', '.join(f'{m:g}' for m in r['vmhwm_mib'])} MiB"
            for r in runs
        ]
    return lines


def targets(result: dict[str, Any]) -> list[Check]:
    if "skipped" in result:
        return [Check("Celery refresh", "not run", result["skipped"], True, False, skipped=True)]
    n = result["accounts"]
    checks = []
    for engine, _how, runs in engines(result):
        base = _base_rate(runs)
        checks += [
            Check(
                f"Celery refresh ({engine}), {r['processes']} process(es): stand-in calls / "
                "duplicated / rows refreshed",
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
                    f"Celery refresh ({engine}): {most['processes']} processes vs 1 ({n} accounts)",
                    f"{ratio:.2f}×",
                    f"≥ {wanted:g}×",
                    ratio >= wanted,
                    False,
                )
            )
        peaks = [m for r in runs for m in r["vmhwm_mib"]]
        checks.append(
            Check(
                f"Celery refresh ({engine}): worker VmHWM, smallest → largest",
                f"{min(peaks):g} → {max(peaks):g} MiB",
                f"flat (≤ {FLAT_MEMORY:g}× the smallest)",
                max(peaks) <= FLAT_MEMORY * min(peaks),
                False,
            )
        )
    if "async" in result:
        ratio = _base_rate(result["async"]["runs"]) / _base_rate(result["runs"])
        checks.append(
            Check(
                "Celery refresh, 1 process: async engine inside a task vs threads",
                f"{ratio:.2f}×",
                f"≥ {TARGET_ASYNC_VS_THREADS:g}×",
                ratio >= TARGET_ASYNC_VS_THREADS,
                False,
            )
        )
    return checks


def chart(result: dict[str, Any], path: Path) -> None:
    """Accounts/s against worker processes, each engine with its ideal linear line, as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    for engine, how, runs in engines(result):
        runs = sorted(runs, key=lambda r: r["processes"])
        processes = [r["processes"] for r in runs]
        rates = [r["accounts_per_s"] for r in runs]
        base = _base_rate(runs)
        (line,) = axes.plot(processes, rates, "o-", label=f"{engine}: {how}")
        axes.plot(processes, [base * p for p in processes], "--", color=line.get_color(), alpha=0.5)
        for p, rate in zip(processes, rates, strict=True):
            axes.annotate(f"{rate:.0f}", (p, rate), textcoords="offset points", xytext=(0, 6))
        axes.set_xticks(processes)
    axes.set_xlabel("worker processes (threads pool; dashed: linear from 1 process)")
    axes.set_ylabel("accounts refreshed per second")
    axes.set_title(
        f"refresh_expiring: {result['accounts']} accounts, {result['delay_ms']:.0f} ms stand-in"
    )
    axes.set_ylim(bottom=0)
    axes.legend(fontsize="small")
    figure.tight_layout()
    # A fixed hash salt and no date: the same figures give the same file.
    matplotlib.rcParams["svg.hashsalt"] = "google_connect"
    figure.savefig(path, format="svg", metadata={"Date": None})
    pyplot.close(figure)


def section(result: dict[str, Any], checks: list[Check], machine: dict[str, Any]) -> str:
    out = [BEGIN, "## 8. Proactive refresh on Celery workers (PostgreSQL, Redis)", ""]
    if "skipped" in result:
        return "\n".join([*out, f"Skipped: {result['skipped']}.", "", END])
    out += [
        f"`google_connect.refresh_expiring` fans {result['accounts']} expired accounts out into "
        "`refresh_accounts` chunks, run by 1, 2 and 4 `celery worker` processes (**threads "
        "pool**, prefetch 1, Redis as broker and result backend) against PostgreSQL; the "
        f"stand-in token endpoint on 127.0.0.1 answers after {result['delay_ms']:.0f} ms. "
        "Threads, not prefork: the work is waiting on Google and the row lock, a thread per "
        "slot is enough, and each worker stays one process whose own peak memory (VmHWM) is "
        "the worker's. Time runs from `refresh_expiring.delay()` to the last chunk's stored "
        "result. Each process count runs on both engines inside a task:",
        "",
        f"- **threads** (`BULK_CONCURRENCY` None): chunks of {result['chunk_size']}, "
        f"concurrency {result['concurrency']} per worker, each chunk's refreshes one after "
        "another;",
    ]
    if "async" in result:
        on_engine = result["async"]
        out.append(
            f"- **async** (`BULK_CONCURRENCY` {on_engine['bulk_concurrency']}): chunks of "
            f"{on_engine['chunk_size']}, concurrency {on_engine['concurrency']} per worker, "
            f"each chunk on the async engine with up to {on_engine['bulk_concurrency']} calls "
            "in flight."
        )
    out += [
        "",
        f"Measured on {machine['when']}, {machine['cores']} cores, load average before "
        f"{machine['load_before']}; the machine is shared with other jobs, so the rates "
        "stretch with their load.",
        "",
        "| engine | worker processes | wall s | accounts/s | vs 1 process | ideal | "
        "stand-in calls | duplicated | rows refreshed | VmHWM per worker MiB | "
        "worker CPU ms/account |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine, _how, runs in engines(result):
        base = _base_rate(runs)
        for r in sorted(runs, key=lambda r: r["processes"]):
            out.append(
                f"| {engine} | {r['processes']} | {r['wall_s']:.1f} | "
                f"{r['accounts_per_s']:.1f} | {r['accounts_per_s'] / base:.2f}× | "
                f"{r['processes']}× | {r['token_calls']} | {r['duplicated']} | "
                f"{r['refreshed_rows']} | {', '.join(f'{m:g}' for m in r['vmhwm_mib'])} | "
                f"{r['worker_cpu_ms_per_account']:.1f} |"
            )
    out += [
        "",
        f"![accounts refreshed per second against worker processes, on each engine]({CHART})",
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
