"""Register this site's security event receiver with Google (Cross-Account Protection)."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from google_connect.risc.actions import EVENT_TYPES
from google_connect.risc.stream import RiscApiError, RiscStreamClient, service_account_token


class Command(BaseCommand):
    help = (
        "Configure the project's RISC event stream to push Google's security events to "
        "--receiver-url, or with --status / --enable / --disable / --verify STATE manage it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--service-account",
            metavar="FILE",
            default=os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"),
            help="The service account's JSON key (default: $GOOGLE_APPLICATION_CREDENTIALS).",
        )
        parser.add_argument(
            "--receiver-url",
            metavar="URL",
            help="The receiver's public https URL, e.g. https://example.com/google/risc/events.",
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--status", action="store_true", help="Show the stream and its status.")
        action.add_argument("--enable", action="store_true", help="Enable the stream.")
        action.add_argument("--disable", action="store_true", help="Disable the stream.")
        action.add_argument(
            "--verify", metavar="STATE", help="Ask Google to push a verification event."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["service_account"]:
            raise CommandError(
                "No service account key: pass --service-account FILE or set "
                "GOOGLE_APPLICATION_CREDENTIALS."
            )
        receiver_url = options["receiver_url"]
        configuring = not (
            options["status"] or options["enable"] or options["disable"] or options["verify"]
        )
        if configuring:
            if not receiver_url:
                raise CommandError("--receiver-url is required to configure the stream.")
            if urlsplit(receiver_url).scheme != "https" or not urlsplit(receiver_url).hostname:
                raise CommandError("--receiver-url must be an https URL: Google pushes only there.")
        try:
            client = RiscStreamClient(service_account_token(options["service_account"]))
            if configuring:
                client.update_stream(receiver_url)
                self.stdout.write(
                    f"Stream configured: Google pushes {len(EVENT_TYPES)} event types to "
                    f"{receiver_url}."
                )
            elif options["status"]:
                self.stdout.write("Stream: " + json.dumps(client.stream(), sort_keys=True))
                answer = client.status()
                status = answer.get("status", "unknown") if isinstance(answer, dict) else "unknown"
                self.stdout.write(f"Status: {status}")
            elif options["verify"] is not None:
                client.verify(options["verify"])
                self.stdout.write(
                    f"Verification requested with state {options['verify']!r}: the receiver "
                    "logs it when Google's event arrives."
                )
            else:
                status = "enabled" if options["enable"] else "disabled"
                client.set_status(status)
                self.stdout.write(f"Stream {status}.")
        except RiscApiError as exc:
            raise CommandError(str(exc)) from None
