"""Worker processes that share this process's (test) database, started together.

Used by the single-flight test and the refresh benchmark: each worker sets
Django up, prints ``ready`` and waits for a line on stdin, so that the caller
can release them all at the same moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


# Per vendor: the URL scheme django-environ reads, the default user and port.
SERVERS = {"postgresql": ("postgres", "postgres", 5432), "mysql": ("mysql", "root", 3306)}


def database_url() -> str:
    """A URL for the PostgreSQL or MariaDB database this process is connected to."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor not in SERVERS:
        raise RuntimeError("worker processes need PostgreSQL or MariaDB")
    scheme, default_user, default_port = SERVERS[connection.vendor]
    user = params["USER"] or default_user
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    host = params["HOST"] or "127.0.0.1"
    port = params["PORT"] or default_port
    return f"{scheme}://{user}{password}@{host}:{port}/{params['NAME']}"


def start_ready_workers(
    module: str, args_per_worker: list[list[str]], env: dict[str, str] | None = None
) -> list[subprocess.Popen[str]]:
    """Start ``python -m module ARGS`` once per entry; return when each said ``ready``."""
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        # This checkout first, then whatever the caller's PYTHONPATH adds
        # (a database driver installed beside the venv, say).
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **(env or {}),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            env=full_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for args in args_per_worker
    ]
    for worker in workers:
        line = worker.stdout.readline().strip()  # type: ignore[union-attr]
        if line != "ready":
            raise RuntimeError(f"a {module} worker did not start (said {line!r})")
    return workers


def release_and_collect(workers: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    """Let every ready worker go at once; return each one's output once it exited cleanly."""
    for worker in workers:
        worker.stdin.write("go\n")  # type: ignore[union-attr]
        worker.stdin.flush()  # type: ignore[union-attr]
    outputs = []
    for worker in workers:
        out, _ = worker.communicate(timeout=timeout)
        if worker.returncode != 0:
            raise RuntimeError(f"a worker exited with status {worker.returncode}")
        outputs.append(out)
    return outputs
