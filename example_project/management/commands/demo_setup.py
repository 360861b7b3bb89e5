"""Create the demo site's two users, ``demo`` and ``admin``, and print how to log in.

Run by ``make demo``. Safe to run again: existing users get their demo
password back, so the printed credentials are always the working ones.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

# Well known on purpose: these users exist only on a developer's machine.
USERS = (
    # username, password, is_staff and is_superuser
    ("demo", "demo", False),
    ("admin", "admin", True),
)


class Command(BaseCommand):
    help = "Create (or reset) the demo user and the demo superuser, and print their credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "demo_setup creates users with well-known passwords; it runs only with DEBUG on."
            )
        user_model = get_user_model()
        for username, password, is_admin in USERS:
            user, created = user_model.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = user.is_superuser = is_admin
            user.save()
            role = "superuser" if is_admin else "user"
            action = "created" if created else "already there, password reset"
            self.stdout.write(f"{role:>9}: {username} / {password}  ({action})")
