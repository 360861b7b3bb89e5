"""Bulk revocation at scale, on PostgreSQL, against a stand-in Google on 127.0.0.1.

``revoke_google_accounts --all`` runs in its own process (as an operator would
run it), which reports its wall time and its own peak memory; the stand-in
answers every revocation after ``delay`` seconds and counts the calls it got,
so the command's own summary is checked against what Google saw. The floor,
accounts × delay ÷ workers, is what no run can beat.

Run as ``python -m benchmarks.revoke '{"runs": [[10000, 32], [500, 1]], "delay": 0.05}'``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import harness, seed
from tests.processes import database_url

REPO_ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"(\d+) revoked, (\d+) already revoked, (\d+) failed")


def run_command(args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], str]:
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.command", report.name, *args],
            cwd=REPO_ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        cost = json.loads(Path(report.name).read_text() or "{}")
    if completed.returncode != 0:
        raise RuntimeError(
            f"{args[0]} exited {completed.returncode}: {completed.stderr.strip()[-2000:]}"
        )
    return cost, completed.stdout


def revoke_all(accounts: int, workers: int, delay: float) -> dict[str, Any]:
    from google_connect.models import GoogleAccount

    seed.create_accounts(accounts, label=f"revoke{workers}w")
    with harness.RecordingStub(revoke_delay=delay) as stub:
        env = {"DATABASE_URL": database_url(), "BENCH_REVOKE_URL": stub.revoke_url}
        cost, output = run_command(
            ["revoke_google_accounts", "--all", "--workers", str(workers)], env
        )
        revoke_calls = stub.count("revoke")
    summary = SUMMARY.search(output)
    if summary is None:
        raise RuntimeError(f"unexpected output from revoke_google_accounts: {output!r}")
    revoked, already, failed = map(int, summary.groups())
    return {
        "accounts": accounts,
        "workers": workers,
        "revoked": revoked,
        "already_revoked": already,
        "failed": failed,
        "revoke_calls": revoke_calls,
        "rows_left": GoogleAccount.objects.count(),
        "wall_s": cost["wall_s"],
        "accounts_per_s": accounts / cost["wall_s"],
        "cpu_s": cost["cpu_s"],
        "peak_rss_mb": cost["peak_rss_mb"],
        "delay_ms": delay * 1000,
        # No run can beat it: every account waits out the stand-in's delay
        # once, on one of ``workers`` threads.
        "floor_s": accounts * delay / workers,
        "of_floor": cost["wall_s"] / (accounts * delay / workers),
    }


def main(options: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL"}
    return {
        f"{accounts}x{workers}": revoke_all(accounts, workers, options["delay"])
        for accounts, workers in options["runs"]
    }


if __name__ == "__main__":
    harness.run(main)
