"""Report on connected grants; optionally warn before they end and keep idle ones alive."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import ngettext

from google_connect.grants import send_expiry_warnings
from google_connect.management.concurrency import add_concurrency_argument, check_concurrency
from google_connect.management.databases import add_database_argument, resolve_database
from google_connect.management.progress import moved_by, progress_bar
from google_connect.store import jobs
from google_connect.store.health import UNKNOWN_REASON, summary
from google_connect.store.pending_revocation import MAX_ATTEMPTS, pending_summary
from google_connect.store.reasons import ReconnectReason
from google_connect.store.revocation import MAX_WORKERS, one_worker_on_sqlite


class Command(BaseCommand):
    help = (
        "Print how many Google accounts are active, need a reconnect (and why), belong to "
        "each OAuth client (when there are several), have a "
        "time-limited grant ending soon, are idle, or have undecryptable tokens. "
        "--send-warnings and --keep-alive act on them; run it daily from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--send-warnings",
            action="store_true",
            help="Send google_account_expiring once for each grant ending within "
            "EXPIRY_WARNING_DAYS.",
        )
        parser.add_argument(
            "--keep-alive",
            action="store_true",
            help="Refresh every active account unused for more than KEEP_ALIVE_DAYS.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help=f"Concurrent --keep-alive and --refresh-expiring refreshes, each with its own "
            f"database connection (1 to {MAX_WORKERS}, default 1; 1 on SQLite).",
        )
        parser.add_argument(
            "--refresh-expiring",
            action="store_true",
            help="Refresh every active account whose access token expires within 10 minutes.",
        )
        add_concurrency_argument(parser)
        add_database_argument(parser, "accounts are reported on, warned and kept alive")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["workers"] <= MAX_WORKERS:
            raise CommandError(f"--workers must be between 1 and {MAX_WORKERS}.")
        check_concurrency(options["concurrency"])
        database = resolve_database(options["database"])
        if message := one_worker_on_sqlite(options["workers"], database):
            # Said once, for whichever of the jobs with workers runs; the
            # library functions would log it again, so they get 1.
            if options["keep_alive"] or options["refresh_expiring"]:
                self.stderr.write(message)
            options["workers"] = 1
        done: dict[str, dict[str, int]] = {}
        if options["send_warnings"]:
            done["warnings"] = send_expiry_warnings(using=database)
        # The jobs the tasks run; here --concurrency, not BULK_CONCURRENCY, picks the engine.
        if options["keep_alive"]:
            done["keep_alive"] = self.run_job(jobs.keep_alive, "keep-alive", database, options)
        if options["refresh_expiring"]:
            done["refresh"] = self.run_job(jobs.refresh_expiring_here, "refresh", database, options)
        report = {
            **summary(using=database),
            "pending_revocations": pending_summary(using=database),
            **done,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            self.write_text(report)
        problems = []
        failed = sum(counts.get("failed", 0) for counts in done.values())
        if failed:
            problems.append(
                _plural(
                    failed,
                    "%(count)d warning or refresh failed",
                    "%(count)d warnings or refreshes failed",
                )
            )
        pending = report["pending_revocations"]
        if pending["overdue"] or pending["past_attempt_cap"]:
            # A grant still live at Google for an account we deleted.
            problems.append(
                _plural(
                    pending["overdue"],
                    "%(count)d pending revocation older than a day",
                    "%(count)d pending revocations older than a day",
                )
                + f", {pending['past_attempt_cap']} past {MAX_ATTEMPTS} attempts; "
                "see revoke_google_accounts --pending"
            )
        if problems:
            raise CommandError("; ".join(problems) + ".")

    def run_job(
        self, job: Callable[..., dict[str, int]], what: str, database: str, options: dict[str, Any]
    ) -> dict[str, int]:
        enabled = not options["json"] and self.stderr.isatty()
        with progress_bar(enabled=enabled, unit="account", desc=what) as bar:
            return job(
                using=database,
                workers=options["workers"],
                concurrency=options["concurrency"],
                on_progress=moved_by(bar) if enabled else None,
            )

    def write_text(self, report: dict[str, Any]) -> None:
        write = self.stdout.write
        by_status = report["by_status"]
        write(
            _plural(report["accounts"], "%(count)d Google account", "%(count)d Google accounts")
            + f": {by_status['active']} active, {by_status['reconnect_required']} reconnect "
            "required"
        )
        labels = dict(ReconnectReason.choices)
        for reason, count in report["by_reason"].items():
            if count:
                label = labels.get(reason, "reason not recorded")
                write(f"  {count} {reason if reason != UNKNOWN_REASON else 'unknown'} ({label})")
        for client_id, counts in report.get("by_client", {}).items():
            name = counts["name"] or "no longer configured"
            write(f"  {counts['accounts']} of client {client_id} ({name})")
        expiring, idle = report["expiring"], report["idle"]
        write(
            _plural(
                expiring["count"],
                "%(count)d time-limited grant ends",
                "%(count)d time-limited grants end",
            )
            + " within "
            + _plural(expiring["within_days"], "%(count)d day", "%(count)d days")
        )
        write(
            _plural(
                report["ended"],
                "%(count)d time-limited grant has ended",
                "%(count)d time-limited grants have ended",
            )
            + " (marked at the next refresh)"
        )
        write(
            _plural(idle["count"], "%(count)d active account", "%(count)d active accounts")
            + " unused for more than "
            + _plural(idle["days"], "%(count)d day", "%(count)d days")
        )
        undecryptable = report["undecryptable"]
        line = (
            _plural(undecryptable["count"], "%(count)d account", "%(count)d accounts")
            + " with tokens no key in FERNET_KEYS decrypts"
        )
        if undecryptable["ids"]:
            line += ": " + ", ".join(map(str, undecryptable["ids"]))
        write(line)
        pending = report["pending_revocations"]
        line = _plural(
            pending["count"], "%(count)d pending revocation", "%(count)d pending revocations"
        )
        if pending["count"]:
            line += (
                f", the oldest {_age(pending['oldest_age_seconds'])} old: "
                f"{pending['overdue']} older than a day, "
                f"{pending['past_attempt_cap']} past {MAX_ATTEMPTS} attempts"
            )
        write(line)
        if pending["undecryptable_ids"]:
            write(
                "  undecryptable (no key in FERNET_KEYS): "
                + ", ".join(map(str, pending["undecryptable_ids"]))
            )
        if "warnings" in report:
            warnings = report["warnings"]
            write(
                _plural(
                    warnings["warned"],
                    "%(count)d expiry warning sent",
                    "%(count)d expiry warnings sent",
                )
                + f", {warnings['failed']} failed"
            )
        for key, label in (("keep_alive", ""), ("refresh", "expiring: ")):
            if key in report:
                counts = report[key]
                write(
                    f"{label}{counts['refreshed']} refreshed, {counts['reconnect_required']} "
                    f"reconnect required, {counts['failed']} failed"
                )


def _plural(count: int, singular: str, plural: str) -> str:
    return ngettext(singular, plural, count) % {"count": count}


def _age(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 60}m"
