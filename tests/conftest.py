"""Shared fixtures: users, a logged-in client, ``google`` (a fake Google for
``responses``), and the example project with its stand-in for Google."""

from pathlib import Path

import pytest

from example_project import demo
from tests.support import example_google_connect

EXAMPLE_PROJECT = Path(__file__).resolve().parent.parent / "example_project"
TEST_CLIENT_BASE_URL = "http://testserver"
# ``google``: Google's endpoints faked, as google_connect ships it for sites' tests.
pytest_plugins = ["google_connect.testing.fixtures"]


@pytest.fixture(scope="session", autouse=True)
def _database_features_known(django_db_setup, django_db_blocker):
    """Ask every test database once, now, what it supports.

    Django 6.1's system checks ask each database whether it supports
    JSONField (django_tasks_db's models have one), and SQLite answers with a
    query. In a test that may use only ``default`` that query to ``other`` is
    forbidden, so every ``run_checks()`` would fail; asked here, the answer
    is cached on the connection and the checks run no query.
    """
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            connections[alias].features.supports_json_field  # noqa: B018


@pytest.fixture
def risc(google):
    """Google's RISC discovery document and signing keys on the ``google`` mock."""
    from google_connect.google.risc_keys import KEYS
    from tests.risc_support import FakeRisc

    KEYS.clear()
    yield FakeRisc(google.mock)
    KEYS.clear()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "pw")


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def example_site(settings):
    """The example project's URLs and templates on top of the test settings.

    Only what its pages need: the example's INSTALLED_APPS are those of the
    test settings (which include the stand-in), and the demo mode settings
    come from ``example_project.demo`` like in ``example_project/settings.py``.
    """
    settings.ROOT_URLCONF = "example_project.urls"
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [
        {
            **engine,
            "DIRS": [EXAMPLE_PROJECT / "templates"],
            "OPTIONS": {
                **engine["OPTIONS"],
                "context_processors": [
                    *engine["OPTIONS"]["context_processors"],
                    "example_project.context_processors.demo_mode",
                ],
            },
        }
    ]
    settings.LOGIN_URL = "login"
    settings.LOGIN_REDIRECT_URL = "home"
    settings.LOGOUT_REDIRECT_URL = "home"
    settings.GOOGLE_CONNECT = example_google_connect(settings.GOOGLE_CONNECT)
    return settings


@pytest.fixture
def demo_mode(example_site):
    """The example project in demo mode, served as Django's test client sees it."""
    example_site.GOOGLE_CONNECT = example_google_connect(
        demo.google_connect_settings(TEST_CLIENT_BASE_URL)
    )
    example_site.FAKE_GOOGLE = demo.fake_google_settings(TEST_CLIENT_BASE_URL)
    return example_site


def pytest_terminal_summary(terminalreporter):
    from tests.figures import FIGURES

    if FIGURES:
        terminalreporter.section("google_connect figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
    # A skipped browser test hides in "N passed, M skipped": say it last, plainly.
    for report in terminalreporter.stats.get("skipped", []):
        if "e2e" in getattr(report, "keywords", ()) and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
            terminalreporter.write_line(
                f"BROWSER TEST SKIPPED: {report.nodeid}: {reason}", yellow=True, bold=True
            )


@pytest.fixture
def sleeps(monkeypatch):
    """The waits between retries, recorded instead of slept."""
    from google_connect.google import retry

    waits = []
    monkeypatch.setattr(retry, "sleep", waits.append)
    return waits


@pytest.fixture
def no_backoff(sleeps):
    """Retries without waiting."""
    return sleeps


def pytest_addoption(parser):
    parser.addoption(
        "--celery-live",
        action="store_true",
        help="run the tests marked celery_live (real Celery workers on Redis); CI runs them once",
    )
    parser.addoption(
        "--tasks-live",
        action="store_true",
        help="run the tests marked tasks_live (real django-tasks-db workers on PostgreSQL); "
        "CI runs them once",
    )
    parser.addoption(
        "--update-screenshots",
        action="store_true",
        help="the browser tour saves the demo tour's screenshots into docs/ (make screenshots); "
        "without it they go to the test's temporary directory and no tracked file changes",
    )


def pytest_collection_modifyitems(config, items):
    opt_in = {
        "celery_live": ("--celery-live", "starts real Celery workers"),
        "tasks_live": ("--tasks-live", "starts real django-tasks-db workers"),
    }
    for marker, (option, what) in opt_in.items():
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(
            reason=f"{marker}: {what}; run with {option} (CI runs it once per run, in .ci/run)"
        )
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
