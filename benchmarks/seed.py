"""Many accounts, fast: ``bulk_create`` in batches, tokens still encrypted.

``bulk_create`` goes through each field's ``get_db_prep_save``, so the token
columns hold Fernet ciphertext exactly as ``save()`` would write it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

BATCH = 2000
_runs = itertools.count(1)


def create_accounts(count: int, *, expired: bool = False, label: str = "seed") -> list[int]:
    """Create ``count`` users, each with one Google account; return the accounts' ids."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from google_connect.models import GoogleAccount

    user_model = get_user_model()
    run = f"{label}{next(_runs)}"
    expires_at = timezone.now() + (timedelta(minutes=-5) if expired else timedelta(hours=1))
    ids: list[int] = []
    for start in range(0, count, BATCH):
        numbers = range(start, min(count, start + BATCH))
        users = user_model.objects.bulk_create(
            [user_model(username=f"{run}-{n}", password="!") for n in numbers]
        )
        accounts = GoogleAccount.objects.bulk_create(
            [
                GoogleAccount(
                    user=user,
                    sub=f"{run}-sub-{n}",
                    email=f"{run}-{n}@example.com",
                    access_token=f"ya29.{run}-ACCESS-{n}",
                    refresh_token=f"1//{run}-REFRESH-{n}",
                    expires_at=expires_at,
                    scopes="openid email profile",
                )
                for user, n in zip(users, numbers, strict=True)
            ]
        )
        ids.extend(account.pk for account in accounts)
    return ids
