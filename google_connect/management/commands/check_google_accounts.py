"""Report on connected grants; optionally warn before they end and keep idle ones alive."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from google_connect.grants import keep_alive, send_expiry_warnings
from google_connect.store.health import UNKNOWN_REASON, summary
from google_connect.store.reasons import ReconnectReason
from google_connect.store.revocation import MAX_WORKERS


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
            help=f"Concurrent keep-alive refreshes, each with its own database connection "
            f"(1 to {MAX_WORKERS}, default 1).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["workers"] <= MAX_WORKERS:
            raise CommandError(f"--workers must be between 1 and {MAX_WORKERS}.")
        done: dict[str, dict[str, int]] = {}
        if options["send_warnings"]:
            done["warnings"] = send_expiry_warnings()
        if options["keep_alive"]:
            done["keep_alive"] = keep_alive(
                workers=options["workers"],
                progress=not options["json"] and self.stderr.isatty(),
            )
        report = {**summary(), **done}
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            self.write_text(report)
        failed = sum(counts.get("failed", 0) for counts in done.values())
        if failed:
            raise CommandError(f"{failed} warning(s) or keep-alive refresh(es) failed.")

    def write_text(self, report: dict[str, Any]) -> None:
        write = self.stdout.write
        by_status = report["by_status"]
        write(
            f"{report['accounts']} Google accounts: {by_status['active']} active, "
            f"{by_status['reconnect_required']} reconnect required"
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
        write(f"{expiring['count']} time-limited grants end within {expiring['within_days']} days")
        write(f"{report['ended']} time-limited grants have ended (marked at the next refresh)")
        write(f"{idle['count']} active accounts unused for more than {idle['days']} days")
        undecryptable = report["undecryptable"]
        line = f"{undecryptable['count']} accounts with tokens no key in FERNET_KEYS decrypts"
        if undecryptable["ids"]:
            line += ": " + ", ".join(map(str, undecryptable["ids"]))
        write(line)
        if "warnings" in report:
            warnings = report["warnings"]
            write(f"{warnings['warned']} expiry warnings sent, {warnings['failed']} failed")
        if "keep_alive" in report:
            counts = report["keep_alive"]
            write(
                f"{counts['refreshed']} refreshed, {counts['reconnect_required']} reconnect "
                f"required, {counts['failed']} failed"
            )
