"""Mint a mobile-style server auth code for a demo identity, as an iOS or Android app receives it.

Google hands a mobile app (``GIDSignInResult.serverAuthCode``, Android's
``AuthorizationClient``) a code for the site's web client, issued without
PKCE and for no redirect: the backend exchanges it with the web client's
secret and an empty ``redirect_uri``. This command plays the consent that
happened in the app, and prints the code (to stdout, alone, so a shell can
capture it) for ``POST api/v1/code`` with ``"flow": "mobile"``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from example_project.fake_google.conf import client_with_id, registered_client
from example_project.fake_google.identities import IDENTITIES
from example_project.fake_google.models import AuthorizationCode, Grant

# What a sign-in button asks for, as google_connect's default SCOPES.
DEFAULT_SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)
# A mobile app's server auth code is exchanged with an empty redirect_uri.
MOBILE_REDIRECT_URI = ""


class Command(BaseCommand):
    help = "Print a mobile-style server auth code for the demo identity EMAIL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="a demo identity, e.g. ada.lovelace@example.com")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            help="a scope to grant (repeat for more); default: openid, email and profile",
        )
        parser.add_argument(
            "--client-id", help="the web client the code is for; default: the first one"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        identity = next((i for i in IDENTITIES.values() if i.email == options["email"]), None)
        if identity is None:
            known = ", ".join(i.email for i in IDENTITIES.values())
            raise CommandError(f"No demo identity has that email. Known: {known}.")
        client = (
            client_with_id(options["client_id"]) if options["client_id"] else registered_client()
        )
        if client is None:
            raise CommandError("No registered client has that id.")
        scopes = list(dict.fromkeys(options["scopes"] or DEFAULT_SCOPES))
        # One grant per identity and client, as a consent on the phone makes.
        grant = Grant.objects.consent(client.client_id, identity.key, scopes, expires_at=None)
        code = AuthorizationCode.objects.issue(
            grant, scopes=scopes, redirect_uri=MOBILE_REDIRECT_URI, code_challenge=""
        )
        self.stdout.write(code)
