"""The test settings, for worker processes (Celery, django-tasks-db's db_worker):
Google's token endpoint is a stand-in."""

import os

from tests.settings import *  # noqa: F403

GOOGLE_CONNECT = {
    **GOOGLE_CONNECT,  # noqa: F405
    "TOKEN_URL": os.environ["STAND_IN_TOKEN_URL"],
    "REVOKE_URL": os.environ.get("STAND_IN_REVOKE_URL", "http://127.0.0.1:9/revoke"),
    # Where google_connect.background_tasks' fan-outs enqueue their chunks.
    "TASK_BACKEND": os.environ.get("GC_TASK_BACKEND") or None,
    # "none": the chunks on their thread pool rather than the async engine.
    **(
        {"BULK_CONCURRENCY": None}
        if os.environ.get("GC_BULK_CONCURRENCY") == "none"
        else {"BULK_CONCURRENCY": int(os.environ["GC_BULK_CONCURRENCY"])}
        if os.environ.get("GC_BULK_CONCURRENCY")
        else {}
    ),
}
