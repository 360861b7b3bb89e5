"""Real ``celery worker`` processes on Redis, for the live test and the benchmark.

The workers run ``tests.celery_app`` against the caller's PostgreSQL database
(the test database it is connected to) and a Redis database of the caller's
own, which is flushed before and after, and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT, database_url

META_PREFIX = "celery-task-meta-"


def redis_or_reason(url: str) -> tuple[Any, str]:
    """A client for the Redis database at ``url``, or None and why it cannot be used."""
    try:
        import redis
    except ImportError:
        return None, "the redis client is not installed (pip install 'google_connect[celery]')"
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        return None, (
            f"needs Redis at {url} ({type(exc).__name__}); start it with "
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379` (.ci/run does)"
        )
    return client, ""


class Workers:
    """``count`` worker processes (``--pool threads --concurrency N``), started and stopped.

    Its ``app`` talks to the same broker; make it the current app to send tasks.
    """

    def __init__(
        self,
        *,
        count: int,
        concurrency: int,
        broker_url: str,
        settings: str,
        env: dict[str, str],
        log_dir: Path,
    ) -> None:
        from celery import Celery

        self.count, self.concurrency, self.broker_url = count, concurrency, broker_url
        self.settings, self.env, self.log_dir = settings, env, log_dir
        self.run_id = uuid.uuid4().hex[:8]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.app = Celery("google_connect_sender", set_as_current=False)
        self.app.conf.update(broker_url=broker_url, result_backend=broker_url)

    def names(self) -> set[str]:
        return {f"gc{n}-{self.run_id}@127.0.0.1" for n in range(self.count)}

    def __enter__(self) -> Workers:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": self.settings,
            "CELERY_BROKER_URL": self.broker_url,
            "PYTHONPATH": str(REPO_ROOT),
            **self.env,
        }
        for name in sorted(self.names()):
            log = (self.log_dir / f"{name.split('@')[0]}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker"),
                        *("--pool", "threads", "--concurrency", str(self.concurrency)),
                        *("--hostname", name, "--loglevel", "WARNING"),
                        *("--without-gossip", "--without-mingle"),
                    ],
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        answered: set[str] = set()
        while answered != self.names():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"celery workers did not start; see {self.log_dir}")
            for reply in self.app.control.ping(destination=sorted(self.names()), timeout=1.0):
                answered.update(reply)

    def peak_memory_kib(self) -> list[int]:
        """Each worker process's own peak resident memory (VmHWM), in KiB."""
        peaks = []
        for process in self.processes:
            status = Path(f"/proc/{process.pid}/status").read_text()
            line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
            peaks.append(int(line.split()[1]))
        return peaks

    def cpu_seconds(self) -> list[float]:
        """Each worker process's CPU time so far (user + system), in seconds."""
        ticks = os.sysconf("SC_CLK_TCK")
        seconds = []
        for process in self.processes:
            # Fields 14 and 15 (utime, stime) follow the ")" that closes the command name.
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds.append((int(fields[11]) + int(fields[12])) / ticks)
        return seconds

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # warm shutdown
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def current_app(app: Any) -> Iterator[Any]:
    """``app`` as Celery's current app, so that ``task.delay()`` sends through it."""
    from celery._state import get_current_app

    previous = get_current_app()
    app.set_current()
    try:
        yield app
    finally:
        previous.set_current()


def task_results(client: Any, name: str) -> list[dict[str, Any]]:
    """The stored results (``result_extended``) of every finished task called ``name``."""
    keys = list(client.scan_iter(f"{META_PREFIX}*", count=1000))
    metas = [json.loads(raw) for raw in client.mget(keys) if raw] if keys else []
    finished = [m for m in metas if m.get("name") == name and m["status"] != "RETRY"]
    failed = [m for m in finished if m["status"] != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{len(failed)} {name} task(s) failed: {failed[0]['result']}")
    return [m["result"] for m in finished]


def wait_for_results(
    client: Any, name: str, expected: int, workers: Workers, timeout: float = 1800
) -> list[dict[str, Any]]:
    """Poll until ``expected`` tasks called ``name`` finished; return their results."""
    deadline = time.monotonic() + timeout
    while True:
        results = task_results(client, name)
        if len(results) >= expected:
            return results
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(results)} of {expected} {name} tasks finished")
        if any(p.poll() is not None for p in workers.processes):
            raise RuntimeError(f"a celery worker exited; see {workers.log_dir}")
        time.sleep(0.2)
