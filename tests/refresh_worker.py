"""One OS process asking for an account's access token, for the single-flight test.

Usage: python -m tests.refresh_worker ACCOUNT_ID TOKEN_URL
with DATABASE_URL pointing at the test database. It sets Django up, prints
``ready``, waits for a line on stdin (so all workers start together), calls
``get_access_token()`` and prints the token and the seconds it took as JSON.
"""

import json
import os
import sys
import time


def main() -> None:
    account_id, token_url = sys.argv[1], sys.argv[2]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    from google_connect.models import GoogleAccount

    override_settings(GOOGLE_CONNECT={**settings.GOOGLE_CONNECT, "TOKEN_URL": token_url}).enable()
    account = GoogleAccount.objects.get(pk=account_id)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    token = account.get_access_token()
    print(json.dumps({"token": token, "seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    main()
