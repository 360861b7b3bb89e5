"""The Celery app of the live test's and the benchmark's worker processes.

    DJANGO_SETTINGS_MODULE=tests.celery_worker_settings CELERY_BROKER_URL=redis://... \\
        python -m celery -A tests.celery_app worker --pool threads --concurrency 2

``CELERY_BROKER_URL`` is the broker and the result backend (default Redis
database 14, the live test's). With ``GC_DELIVER_TWICE=1`` every chunk task
a fan-out queues is published a second time, as an at-least-once broker may
deliver it: the tasks must make no extra call to Google for it.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import after_task_publish

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
CHUNK_TASKS = ("google_connect.refresh_accounts", "google_connect.revoke_accounts")
DUPLICATE_HEADER = "gc_duplicate"

app = Celery("google_connect_live", set_as_current=False)
app.conf.update(
    broker_url=BROKER_URL,
    result_backend=BROKER_URL,
    # Names and arguments in the stored results, so a test can tell them apart.
    result_extended=True,
    # With acks_late, a worker takes one task at a time per slot: none hoarded.
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks(["google_connect"])


@after_task_publish.connect
def deliver_twice(sender=None, headers=None, body=None, **kwargs):
    if not os.environ.get("GC_DELIVER_TWICE") or sender not in CHUNK_TASKS:
        return
    if (headers or {}).get(DUPLICATE_HEADER):
        return
    args, task_kwargs, _embed = body
    app.send_task(sender, args=args, kwargs=task_kwargs, headers={DUPLICATE_HEADER: True})
