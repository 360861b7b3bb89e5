"""Real django-tasks-db ``db_worker`` processes, for the live test of
google_connect.background_tasks.

The workers run with ``tests.celery_worker_settings`` (the test settings with
a stand-in for Google) against the caller's PostgreSQL test database, where
the caller enqueues and reads the results.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.processes import REPO_ROOT, database_url

BACKEND = "database"


class DbWorkers:
    """``count`` ``db_worker`` processes on the ``database`` backend, started and stopped."""

    def __init__(self, *, count: int, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        run_id = uuid.uuid4().hex[:8]
        self.ids = [f"gc{n}-{run_id}" for n in range(count)]
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> DbWorkers:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.celery_worker_settings",
            "GC_TASK_BACKEND": BACKEND,
            "PYTHONPATH": str(REPO_ROOT),
            **self.env,
        }
        for worker_id in self.ids:
            log = (self.log_dir / f"{worker_id}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "django", "db_worker"),
                        *("--backend", BACKEND, "--worker-id", worker_id),
                        *("--interval", "0.1", "--no-startup-delay"),
                    ],
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return self

    def kill(self, worker_id: str) -> None:
        """SIGKILL: the worker dies mid-task, as in an OOM kill or a lost machine."""
        process = self.processes[self.ids.index(worker_id)]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def check_alive(self) -> None:
        for worker_id, process in zip(self.ids, self.processes, strict=True):
            if process.returncode is None and process.poll() is not None:
                raise RuntimeError(f"db_worker {worker_id} exited; see {self.log_dir}")

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # finishes its task, then exits
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_idle(workers: DbWorkers, *, ignore: set[str] = frozenset(), timeout: float = 600):
    """Poll until no task is queued or running (but those in ``ignore``, by id);
    return every finished task's result rows."""
    from django_tasks_db.models import DBTaskResult

    deadline = time.monotonic() + timeout
    while True:
        pending = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exclude(
            id__in=list(ignore)
        )
        if not pending.exists():
            failed = DBTaskResult.objects.filter(status="FAILED")
            if failed.exists():
                first = failed.first()
                raise RuntimeError(f"{failed.count()} task(s) failed: {first.traceback}")
            return list(DBTaskResult.objects.filter(status="SUCCESSFUL"))
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending.count()} task(s) still queued or running")
        workers.check_alive()
        time.sleep(0.2)
