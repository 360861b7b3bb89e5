"""``--tasks-live`` runs the live django.tasks test or fails: .ci/run's stage
for it cannot pass by skipping it (no django-tasks-db, no PostgreSQL)."""

import os
import subprocess
import sys

from tests.processes import REPO_ROOT


def test_with_tasks_live_the_live_test_fails_where_it_cannot_run():
    # On SQLite, where the db_worker processes cannot share the test database.
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}

    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_background_tasks_live.py", "--tasks-live"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # Errors in the postgres fixture: each test fails before it starts a worker.
    assert completed.returncode == 1, completed.stdout[-2000:]
    assert "2 errors" in completed.stdout
    assert completed.stdout.count("(--tasks-live must run the live test, not skip it)") >= 2
