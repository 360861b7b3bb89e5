"""Demo mode of the example project: when it is on, what it wires, and what it shows."""

import json
import logging
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.urls import reverse

from example_project import demo
from example_project.log_filters import RedactAuthorizationCodes
from google_connect.models import GoogleAccount
from google_connect.transport import shared_session
from tests.stand_in import SCOPES

BANNER = "Demo mode: Google is simulated locally"
REPO = Path(__file__).resolve().parent.parent

# Loads example_project.settings in a fresh interpreter, as manage.py would,
# and reports what demo mode switched on.
INSPECT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import Resolver404, resolve
setup_test_environment()
try:
    resolve("/fake-google/token")
    routed = True
except Resolver404:
    routed = False
print(json.dumps({
    "installed": "example_project.fake_google" in settings.INSTALLED_APPS,
    "routed": routed,
    "home_page": Client().get("/").content.decode(),
    "google_connect": settings.GOOGLE_CONNECT,
    "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""


def example_settings(**env: str) -> dict:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DEMO_BASE_URL", "GOOGLE_CLIENT_SECRET"}
    }
    # Set even when empty: a developer's .env must not decide the mode here.
    environ.update({"GOOGLE_CLIENT_ID": "", "DJANGO_SETTINGS_MODULE": "example_project.settings"})
    environ.update(env)
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", INSPECT_SETTINGS],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_without_a_google_client_id_the_example_project_runs_in_demo_mode():
    seen = example_settings(DEMO_BASE_URL="http://demo.test:8123/")

    assert seen["installed"] and seen["routed"]
    assert BANNER in seen["home_page"]
    assert seen["google_connect"] == demo.google_connect_settings("http://demo.test:8123")
    assert seen["google_connect"]["TOKEN_URL"] == "http://demo.test:8123/fake-google/token"
    # The server calls itself at that address, so it must accept the Host.
    assert "demo.test" in seen["allowed_hosts"]


def test_with_a_google_client_id_the_stand_in_is_neither_installed_nor_routed():
    seen = example_settings(GOOGLE_CLIENT_ID="real.apps.googleusercontent.com")

    assert not seen["installed"] and not seen["routed"]
    assert BANNER not in seen["home_page"]
    assert "google_connect example" in seen["home_page"]
    assert seen["google_connect"]["CLIENT_ID"] == "real.apps.googleusercontent.com"
    assert "TOKEN_URL" not in seen["google_connect"]


@pytest.mark.urls("example_project.urls")
def test_demo_settings_point_at_the_stand_ins_routes():
    config = demo.google_connect_settings("http://site.test")

    for key, name in [
        ("AUTHORIZE_URL", "authorize"),
        ("TOKEN_URL", "token"),
        ("USERINFO_URL", "userinfo"),
        ("REVOKE_URL", "revoke"),
    ]:
        assert config[key] == "http://site.test" + reverse(f"fake_google:{name}")
    redirect_uri = demo.fake_google_settings("http://site.test")["REDIRECT_URIS"][0]
    assert redirect_uri == "http://site.test" + reverse("google_connect:connect")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/login/", "/google/accounts/connect", "/fake-google/o/oauth2/v2/auth"]
)
def test_banner_is_on_every_page(demo_mode, client, path):
    response = client.get(path)

    assert BANNER in response.content.decode()


@pytest.mark.django_db
def test_banner_is_in_the_admin(demo_mode, admin_client):
    assert BANNER in admin_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_error_page_keeps_the_spec_text_inside_the_site_layout(demo_mode, alice):
    response = alice.get("/google/accounts/connect", {"state": "forged", "code": "x"})

    content = response.content.decode()
    assert response.status_code == 400
    assert "Something went wrong; to fix this please disconnect Google completely" in content
    assert '<meta name="referrer" content="no-referrer">' in content
    assert "google_connect example" in content  # the site's header


@pytest.fixture
def http_session_closed_after():
    yield
    # google_connect keeps a pooled session per thread. A connection left open
    # to the live server would outlive it and fail noisily at interpreter exit.
    shared_session().close()


@pytest.mark.usefixtures("http_session_closed_after")
def test_demo_flow_connects_an_account_over_real_http(example_site, live_server, alice, user):
    """The flow without a browser: the connect view calls the stand-in over real HTTP."""
    example_site.GOOGLE_CONNECT = demo.google_connect_settings(live_server.url)
    # The test client's own requests are for http://testserver.
    example_site.FAKE_GOOGLE = demo.fake_google_settings("http://testserver")
    consent = alice.get("/google/accounts/authorize")["Location"]
    assert consent.startswith(live_server.url + "/fake-google/o/oauth2/v2/auth?")
    allowed = alice.post(consent, {"identity": "alan", "scopes": SCOPES, "decision": "allow"})

    response = alice.get(allowed["Location"])

    assert response.status_code == 200
    account = GoogleAccount.objects.get()
    assert (account.user, account.email, account.name) == (
        user,
        "alan.turing@example.com",
        "Alan Turing",
    )
    assert account.granted_scopes == list(SCOPES)
    # Built by the stand-in from the request that reached it over HTTP.
    assert account.picture == live_server.url + "/fake-google/avatars/alan.svg"


def run_demo_setup(**options):
    out = StringIO()
    command = load_command_class("example_project", "demo_setup")
    call_command(command, stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_setup_creates_both_users_and_prints_their_credentials(settings, django_user_model):
    settings.DEBUG = True

    out = run_demo_setup()

    assert out.splitlines() == [
        "     user: demo / demo  (created)",
        "superuser: admin / admin  (created)",
    ]
    demo_user = django_user_model.objects.get(username="demo")
    admin = django_user_model.objects.get(username="admin")
    assert demo_user.check_password("demo") and not demo_user.is_staff
    assert admin.check_password("admin") and admin.is_superuser and admin.is_staff


@pytest.mark.django_db
def test_demo_setup_run_again_restores_the_printed_passwords(settings, django_user_model):
    settings.DEBUG = True
    run_demo_setup()
    django_user_model.objects.get(username="demo").set_password("changed")

    out = run_demo_setup()

    assert "demo / demo  (already there, password reset)" in out
    assert django_user_model.objects.count() == 2
    assert django_user_model.objects.get(username="demo").check_password("demo")


@pytest.mark.django_db
def test_demo_setup_refuses_to_run_without_debug(settings, django_user_model):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        run_demo_setup()
    assert not django_user_model.objects.exists()


def test_runserver_request_lines_carry_no_authorization_code():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /google/accounts/connect?code=4%2Fdemo-SECRET&state=abc HTTP/1.1", "302", "0"),
        None,
    )

    assert RedactAuthorizationCodes().filter(record)

    assert record.getMessage() == (
        '"GET /google/accounts/connect?code=[redacted]&state=abc HTTP/1.1" 302 0'
    )
