"""Rows for tests that need accounts without going through the OAuth flow."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from google_connect.models import GoogleAccount

_sequence = itertools.count(1)


def make_account(user: Any = None, **fields: Any) -> GoogleAccount:
    n = next(_sequence)
    if user is None:
        user = get_user_model().objects.create_user(f"user{n}")
    values = {
        "sub": f"sub-{n}",
        "email": f"person{n}@example.com",
        "access_token": f"ya29.FACTORY-ACCESS-{n}",
        "refresh_token": f"1//FACTORY-REFRESH-{n}",
        "expires_at": timezone.now() + timedelta(hours=1),
        "scopes": "openid email profile",
    }
    values.update(fields)
    return GoogleAccount.objects.create(user=user, **values)
