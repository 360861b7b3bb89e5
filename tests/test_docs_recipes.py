"""The scheduling recipe of docs/howto/background-jobs.md, run as written."""

import re
from io import StringIO
from pathlib import Path

import pytest

pytest.importorskip("apscheduler")
pytestmark = pytest.mark.django_db

PAGE = Path(__file__).resolve().parent.parent / "docs" / "howto" / "background-jobs.md"
MARK = "% tests/test_docs_recipes.py runs this block as written."


def recipe() -> str:
    text = PAGE.read_text(encoding="utf-8")
    after = text.split(MARK, 1)[1]
    block = re.search(r"```python\n(.*?)```", after, re.S)
    assert block, "the recipe's code block is gone"
    return block.group(1)


def test_the_apscheduler_recipe_schedules_the_documented_jobs():
    scope: dict = {"__name__": "scheduler_recipe"}  # not __main__: it must not start
    exec(compile(recipe(), str(PAGE), "exec"), scope)  # noqa: S102 - our own documentation

    jobs = {job.id: job for job in scope["scheduler"].get_jobs()}

    assert set(jobs) == {"google-connect-daily", "google-connect-pending"}
    assert str(jobs["google-connect-daily"].trigger) == "cron[hour='3', minute='15']"
    assert str(jobs["google-connect-pending"].trigger) == "cron[minute='*/10']"
    assert jobs["google-connect-pending"].args == (
        "enqueue_google_connect_jobs",
        "--only",
        "retry_pending_revocations",
    )


def test_each_scheduled_job_runs_the_command_it_names():
    pytest.importorskip("django_tasks_db")
    scope: dict = {"__name__": "scheduler_recipe"}
    exec(compile(recipe(), str(PAGE), "exec"), scope)  # noqa: S102 - our own documentation
    ran = []

    for job in scope["scheduler"].get_jobs():
        out = StringIO()
        job.func(*job.args, stdout=out)
        ran.append(out.getvalue())

    # On the suite's ImmediateBackend each enqueued job has run: nothing to do, no error.
    assert len(ran) == 2
    assert all("enqueued" in text for text in ran), ran
