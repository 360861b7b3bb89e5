"""google_connect.testing, as a site's own tests use it (the suite loads its fixtures too)."""

import pytest

from google_connect.models import GoogleAccount
from google_connect.testing import EMAIL, make_account

pytestmark = pytest.mark.django_db


def test_google_connect_runs_a_whole_flow_for_the_logged_in_user(google, alice, user):
    response = google.connect(alice, next_url="/done/")

    assert (response.status_code, response["Location"]) == (302, "/done/")
    assert GoogleAccount.objects.get().user == user
    assert GoogleAccount.objects.get().email == EMAIL
    assert google.token_requests()[0]["grant_type"] == ["authorization_code"]


def test_google_answers_a_refresh_of_an_account_made_to_order(google, user):
    account = make_account(user, expires_at=make_account().expires_at.replace(year=2000))
    google.token()

    token = account.get_access_token()

    assert token == "ya29.TEST-ACCESS-TOKEN-0123456789"
    assert google.token_requests()[0]["grant_type"] == ["refresh_token"]


def test_make_account_creates_a_user_when_none_is_given():
    account = make_account(email="made@example.com")

    assert account.user.pk is not None
    assert (account.email, account.status) == ("made@example.com", GoogleAccount.Status.ACTIVE)
