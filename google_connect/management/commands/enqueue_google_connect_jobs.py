"""Enqueue google_connect's scheduled jobs as django.tasks tasks (for cron or a timer)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import ngettext

from google_connect.store.jobs import DAILY

# The jobs that take no arguments a schedule would have to supply.
SCHEDULABLE = (*DAILY, "refresh_expiring", "rotate_token_keys")


class Command(BaseCommand):
    help = (
        "Enqueue google_connect's daily jobs (" + ", ".join(DAILY) + ") on the task backend "
        "(GOOGLE_CONNECT['TASK_BACKEND'], or the site's default), for a worker to run. "
        "django.tasks has no schedule of its own: run this from cron or a systemd timer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only",
            default=None,
            metavar="NAMES",
            help="Comma-separated jobs to enqueue instead of the daily ones; any of "
            + ", ".join(SCHEDULABLE)
            + ".",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names = self.names(options["only"])
        try:
            from google_connect import background_tasks
        except ImportError as exc:
            raise CommandError(str(exc)) from None
        failed = []
        for name in names:
            result = background_tasks.enqueue(getattr(background_tasks, name))
            # An immediate backend has already run it: say how that went.
            if str(result.status) == "FAILED":
                failed.append(name)
                self.stderr.write(f"{name} failed: {result.errors[-1].exception_class_path}")
            else:
                self.stdout.write(f"{name}: {result.id} ({str(result.status).lower()})")
        self.stdout.write(
            ngettext(
                "%(count)d job enqueued on %(backend)s",
                "%(count)d jobs enqueued on %(backend)s",
                len(names),
            )
            % {"count": len(names), "backend": repr(background_tasks.backend_alias())}
        )
        if failed:
            raise CommandError(
                ngettext(
                    "%(count)d job failed: %(names)s",
                    "%(count)d jobs failed: %(names)s",
                    len(failed),
                )
                % {"count": len(failed), "names": ", ".join(failed)}
            )

    def names(self, only: str | None) -> list[str]:
        if only is None:
            return list(DAILY)
        names = [name.strip() for name in only.split(",") if name.strip()]
        unknown = sorted(set(names) - set(SCHEDULABLE))
        if unknown or not names:
            raise CommandError(
                f"--only takes one or more of {', '.join(SCHEDULABLE)}"
                + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
            )
        return list(dict.fromkeys(names))
