"""The example site's Celery app: ``make worker`` runs a worker with beat.

    REDIS_URL=redis://127.0.0.1:6379/0 celery -A example_project worker --beat

Optional: the demo runs without Celery or Redis, and nothing imports this
module unless a worker starts. It needs the ``celery`` extra.
"""

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("example_project")
app.conf.update(
    broker_url=REDIS_URL,
    result_backend=REDIS_URL,
    # With google_connect's acks_late tasks: each worker slot takes one task at a time.
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    beat_schedule={
        # Keep idle grants alive and warn about grants about to end: once a day each.
        "google-connect-keep-alive": {
            "task": "google_connect.keep_alive",
            "schedule": crontab(hour=3, minute=15),
        },
        "google-connect-expiry-warnings": {
            "task": "google_connect.send_expiry_warnings",
            "schedule": crontab(hour=3, minute=45),
        },
        # Retry the revocations Google could not be told of; one query when none is due.
        "google-connect-retry-pending-revocations": {
            "task": "google_connect.retry_pending_revocations",
            "schedule": timedelta(minutes=5),
        },
    },
)
if os.environ.get("PROACTIVE_REFRESH"):
    # Opt-in: about 24 Google calls per account per day (see docs/howto/celery.md).
    app.conf.beat_schedule["google-connect-refresh-expiring"] = {
        "task": "google_connect.refresh_expiring",
        "schedule": timedelta(minutes=5),
        "kwargs": {"within_seconds": 600},
    }
app.autodiscover_tasks()
