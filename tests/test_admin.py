import re

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
    # No token field (refresh_token_expires_at, a date, is shown).
    assert re.search(r"\b(access|refresh)_token\b", content) is None


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


def test_changelist_shows_and_filters_the_reconnect_reason_in_words(staff):
    make_account(
        email="expired@example.com",
        status="reconnect_required",
        reconnect_reason="refresh_token_expired",
    )
    make_account(
        email="reauth@example.com", status="reconnect_required", reconnect_reason="reauth_required"
    )

    listing = staff.get(CHANGELIST).content.decode()
    filtered = staff.get(CHANGELIST, {"reconnect_reason__exact": "reauth_required"})

    # The status column shows the account's effective state (issue 29) and its reason.
    assert '<td class="field-state">Reconnect required (Time-limited access ended)</td>' in listing
    assert "?reconnect_reason__exact=reauth_required" in listing
    assert ">Google asks the user to sign in again</a>" in listing
    content = filtered.content.decode()
    assert "reauth@example.com" in content and "expired@example.com" not in content


def test_change_page_shows_the_grant_dates(staff):
    account = make_account(status="reconnect_required", reconnect_reason="revoked")

    content = staff.get(f"{CHANGELIST}{account.pk}/change/").content.decode()

    for label in (
        "Refresh token expires at",
        "Grant expires at",
        "Last refreshed at",
        "Expiry warning sent at",
        "Access was removed",
    ):
        assert label in content


EVENTS = "/admin/google_connect/googlesecurityevent/"


def make_event(**fields):
    from django.utils import timezone

    from google_connect.models import GoogleSecurityEvent

    values = {
        "jti": f"jti-{fields.get('event_type', 'x')[-12:]}",
        "event_type": "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked",
        "subject_sub": "sub-1",
        "issued_at": timezone.now(),
        "accounts_affected": 1,
        "action": "reconnect required (revoked), tokens deleted: 1 account(s)",
    }
    values.update(fields)
    return GoogleSecurityEvent.objects.create(**values)


def test_security_events_are_listed_read_only_and_filtered_by_type(staff):
    revoked = make_event()
    enabled = make_event(
        jti="jti-enabled",
        event_type="https://schemas.openid.net/secevent/risc/event-type/account-enabled",
    )

    listed = staff.get(EVENTS).content.decode()
    filtered = staff.get(EVENTS, {"event_type": enabled.event_type}).content.decode()
    page = staff.get(f"{EVENTS}{revoked.pk}/change/")

    def results(html):  # the rows, without the filter sidebar that names every type
        start = html.index('id="result_list"')
        return html[start : html.index("</table>", start)]

    assert "oauth/event-type/tokens-revoked" in results(listed)
    assert "risc/event-type/account-enabled" in results(listed)
    assert "oauth/event-type/tokens-revoked" not in results(filtered)
    assert "risc/event-type/account-enabled" in results(filtered)
    assert page.status_code == 200
    assert 'name="jti"' not in page.content.decode()  # read-only: no input
    assert staff.get(f"{EVENTS}add/").status_code == 403
    assert staff.post(f"{EVENTS}{revoked.pk}/delete/").status_code == 403


def test_changelist_leaves_scopes_to_the_change_page(staff):
    calendar = "https://www.googleapis.com/auth/calendar.readonly"
    account = make_account(scopes=f"openid {calendar}")

    listed = staff.get(CHANGELIST).content.decode()
    detailed = staff.get(f"{CHANGELIST}{account.pk}/change/").content.decode()

    # Narrow columns fit a 1280 px window: scopes are detail.
    assert "calendar" not in listed
    assert calendar in detailed


def test_changelist_shows_an_ended_time_limited_grant_as_ended(staff):
    from datetime import timedelta

    from django.utils import timezone

    make_account(refresh_token_expires_at=timezone.now() - timedelta(minutes=1))

    listing = staff.get(CHANGELIST).content.decode()

    # One status column, with the reason (issue 28's narrow list).
    assert '<td class="field-state">Reconnect required (Time-limited access ended)</td>' in listing
