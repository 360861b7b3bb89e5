"""Smoke test of an installed google-connect, as a new site would use it.

scripts/check_package.py copies this file into an empty folder and runs it
with the Python of a fresh virtualenv that holds only the built wheel and
``responses``: nothing from the checkout can be imported. It configures a
minimal site in code, then runs the system checks, the migrations and one
whole connect flow against a Google faked by ``responses``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import django
import responses
from django.conf import settings
from django.urls import include, path
from responses import matchers

CLIENT_ID = "smoke-client-id.apps.googleusercontent.com"
ACCESS_TOKEN = "ya29.SMOKE-ACCESS-TOKEN"
REFRESH_TOKEN = "1//SMOKE-REFRESH-TOKEN"
CODE = "4/SMOKE-AUTH-CODE"

# ROOT_URLCONF is this module; its urlpatterns are set once Django is set up,
# since google_connect.urls imports the views and, through them, the models.
urlpatterns: list = []


def configure(database: Path) -> None:
    settings.configure(
        SECRET_KEY="package-smoke-test-secret-key",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.messages",
            "django.contrib.sessions",
            "google_connect",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        ROOT_URLCONF=__name__,
        FERNET_KEYS=["package-smoke-fernet-key"],
        GOOGLE_CONNECT={"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": "smoke-client-secret"},
    )
    django.setup()
    urlpatterns.append(path("google/", include("google_connect.urls")))


def check_installed_copy() -> None:
    import google_connect

    location = Path(google_connect.__file__).resolve()
    assert location.is_relative_to(Path(sys.prefix).resolve()), location
    print(f"ok: google_connect {google_connect.__version__} imported from {location.parent}")


def check_system_checks() -> None:
    from django.core.management import call_command

    # Raises SystemCheckError on any error or warning.
    call_command("check", fail_level="WARNING")
    print("ok: system checks")


def check_migrations() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    call_command("migrate", verbosity=0)
    applied = MigrationRecorder(connection).applied_migrations()
    assert ("google_connect", "0001_initial") in applied, sorted(applied)
    # The shipped migrations describe the shipped models (exits 1 otherwise).
    call_command("makemigrations", "google_connect", check=True, dry_run=True, verbosity=0)
    print("ok: migrate, and makemigrations --check finds nothing to do")


def check_connect_flow() -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from google_connect.conf import get_settings
    from google_connect.models import GoogleAccount

    config = get_settings()
    user = get_user_model().objects.create_user("smoke")
    client = Client()
    client.force_login(user)

    response = client.get("/google/accounts/authorize")
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == config.AUTHORIZE_URL
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256"

    with responses.RequestsMock() as google:
        token = google.post(
            config.TOKEN_URL,
            json={
                "access_token": ACCESS_TOKEN,
                "expires_in": 3599,
                "refresh_token": REFRESH_TOKEN,
                "scope": " ".join(config.SCOPES),
                "token_type": "Bearer",
            },
        )
        userinfo = google.get(
            config.USERINFO_URL,
            json={"sub": "1234567890", "email": "smoke@example.com", "email_verified": True},
            match=[matchers.header_matcher({"Authorization": f"Bearer {ACCESS_TOKEN}"})],
        )
        response = client.get("/google/accounts/connect", {"state": query["state"], "code": CODE})

    assert response.status_code == 200, response.content
    # The wheel's templates render the result.
    assert "Your Google account smoke@example.com is connected." in response.content.decode()
    sent = parse_qs(token.calls[0].request.body)
    assert sent["code"] == [CODE]
    assert sent["grant_type"] == ["authorization_code"]
    assert userinfo.call_count == 1
    account = GoogleAccount.objects.get()
    assert (account.user_id, account.sub, account.email) == (
        user.pk,
        "1234567890",
        "smoke@example.com",
    )
    assert (account.access_token, account.refresh_token) == (ACCESS_TOKEN, REFRESH_TOKEN)
    print("ok: one connect flow stored an account")


def check_translations() -> None:
    from django.utils import translation

    with translation.override("fr"):
        assert translation.gettext("Try again") == "Réessayer"
    print("ok: the French catalog is loaded")


def main() -> None:
    check_installed_copy()
    with tempfile.TemporaryDirectory() as tmp:
        configure(Path(tmp) / "smoke.sqlite3")
        check_system_checks()
        check_migrations()
        check_connect_flow()
        check_translations()
    print("package smoke test: all checks passed")


if __name__ == "__main__":
    main()
