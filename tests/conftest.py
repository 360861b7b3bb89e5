"""Shared fixtures: users, a logged-in client, and ``google``, a fake Google."""

import pytest
import responses

from tests.support import FakeGoogle


@pytest.fixture
def google():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeGoogle(mock)


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


def pytest_terminal_summary(terminalreporter):
    from tests.figures import FIGURES

    if FIGURES:
        terminalreporter.section("google_connect figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
