"""The stand-in's two web clients, two projects, and the example site's choice by host."""

import pytest

from example_project import demo
from example_project.tenancy import google_client
from tests.factories import make_account
from tests.stand_in import stand_in_db

pytestmark = stand_in_db


@pytest.fixture
def two_clients(settings):
    settings.FAKE_GOOGLE = demo.fake_google_settings("http://127.0.0.1:8000")
    settings.GOOGLE_CONNECT = demo.google_connect_settings("http://127.0.0.1:8000")
    return settings


def test_the_demo_registers_a_second_client_on_the_other_loopback_name(two_clients):
    [second] = two_clients.FAKE_GOOGLE["OTHER_CLIENTS"]

    assert second["CLIENT_ID"] == demo.SECOND_CLIENT_ID
    assert second["REDIRECT_URIS"] == ["http://localhost:8000/google/accounts/connect"]
    assert two_clients.GOOGLE_CONNECT["CLIENTS"]["second"]["CLIENT_ID"] == demo.SECOND_CLIENT_ID


def test_a_base_url_without_a_twin_has_one_client():
    assert demo.fake_google_settings("http://testserver")["OTHER_CLIENTS"] == []
    assert "CLIENTS" not in demo.google_connect_settings("http://testserver")


def test_the_example_site_picks_the_client_by_host(two_clients, rf):
    assert google_client(rf.get("/", HTTP_HOST="localhost:8000")) == "second"
    assert google_client(rf.get("/", HTTP_HOST="127.0.0.1:8000")) == "default"


def refresh(client, client_id, secret):
    return client.post(
        "/fake-google/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": "1//none",
            "client_id": client_id,
            "client_secret": secret,
        },
    )


def test_the_token_endpoint_knows_each_client_by_its_own_secret(example_site, two_clients, client):
    mixed = refresh(client, demo.SECOND_CLIENT_ID, demo.CLIENT_SECRET)
    own = refresh(client, demo.SECOND_CLIENT_ID, demo.SECOND_CLIENT_SECRET)
    unknown = refresh(client, "nobody", demo.SECOND_CLIENT_SECRET)

    assert (mixed.status_code, mixed.json()["error"]) == (401, "invalid_client")
    # Past the client check: the refresh token is what is refused.
    assert (own.status_code, own.json()["error"]) == (400, "invalid_grant")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")


def test_the_home_page_names_each_rows_client_only_when_a_user_has_several(
    example_site, two_clients, alice, user
):
    make_account(user, sub="ada", email="ada@example.com", client_id=demo.CLIENT_ID)

    alone = alice.get("/").content.decode()
    make_account(user, sub="ada", email="ada@example.com", client_id=demo.SECOND_CLIENT_ID)
    both = alice.get("/").content.decode()

    # One client: nothing to tell the rows apart from, so no label.
    assert "OAuth client:" not in alone
    assert both.count("&lt;ada@example.com&gt;") == 2
    assert "OAuth client: default" in both and "OAuth client: second" in both
