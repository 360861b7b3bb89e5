"""One OS process running the keep-alive, for the concurrent keep-alive test.

Usage: python -m tests.keep_alive_worker TOKEN_URL WORKERS
with DATABASE_URL pointing at the test database. It sets Django up, prints
``ready``, waits for a line on stdin (so that all runs start together), runs
``grants.keep_alive()`` and prints its counts as JSON.
"""

import json
import os
import sys


def main() -> None:
    token_url, workers = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    from google_connect.grants import keep_alive

    override_settings(GOOGLE_CONNECT={**settings.GOOGLE_CONNECT, "TOKEN_URL": token_url}).enable()
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(keep_alive(workers=workers, chunk_size=4)), flush=True)


if __name__ == "__main__":
    main()
