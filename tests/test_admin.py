import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from google_connect.models import GoogleAccount
from tests.factories import make_account

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/google_connect/googleaccount/"


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_changelist_lists_accounts_without_tokens(staff):
    account = make_account(
        email="listed@example.com", access_token="ya29.ADMIN-A", refresh_token="1//ADMIN-R"
    )

    response = staff.get(CHANGELIST)

    content = response.content.decode()
    assert response.status_code == 200
    assert "listed@example.com" in content
    assert account.user.username in content
    assert "ADMIN-A" not in content and "ADMIN-R" not in content


def test_change_page_shows_details_but_no_token_field(staff):
    account = make_account(
        email="detail@example.com", access_token="ya29.ADMIN-A", refresh_token="1//ADMIN-R"
    )

    response = staff.get(f"{CHANGELIST}{account.pk}/change/")

    content = response.content.decode()
    assert response.status_code == 200
    assert "detail@example.com" in content
    assert account.sub in content
    assert "ADMIN-A" not in content and "ADMIN-R" not in content
    assert "access_token" not in content and "refresh_token" not in content


def test_accounts_cannot_be_added_or_edited(staff):
    account = make_account(email="before@example.com")

    assert staff.get(f"{CHANGELIST}add/").status_code == 403
    staff.post(f"{CHANGELIST}{account.pk}/change/", {"email": "after@example.com"})
    assert GoogleAccount.objects.get().email == "before@example.com"


def test_changelist_is_searchable_by_email_and_username(staff):
    make_account(email="findme@example.com")
    other = make_account(email="other@example.com")

    by_email = staff.get(CHANGELIST, {"q": "findme"}).content.decode()
    by_username = staff.get(CHANGELIST, {"q": other.user.username}).content.decode()

    assert "findme@example.com" in by_email and "other@example.com" not in by_email
    assert "other@example.com" in by_username


def test_changelist_filters_by_status(staff):
    make_account(email="ok@example.com")
    make_account(email="broken@example.com", status=GoogleAccount.Status.RECONNECT_REQUIRED)

    content = staff.get(CHANGELIST, {"status__exact": "reconnect_required"}).content.decode()

    assert "broken@example.com" in content and "ok@example.com" not in content


def changelist_queries(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(CHANGELIST).status_code == 200
    return len(queries)


def test_changelist_query_count_does_not_grow_with_rows(staff):
    for _ in range(3):
        make_account()
    few = changelist_queries(staff)
    for _ in range(40):
        make_account()

    assert changelist_queries(staff) == few


def test_changelist_shows_short_scope_names_and_the_change_page_the_full_ones(staff):
    calendar = "https://www.googleapis.com/auth/calendar.readonly"
    account = make_account(scopes=f"openid {calendar}")

    listed = staff.get(CHANGELIST).content.decode()
    detailed = staff.get(f"{CHANGELIST}{account.pk}/change/").content.decode()

    assert "openid calendar.readonly" in listed
    assert calendar not in listed
    assert calendar in detailed
