"""The admin overview, the list's filters and search, and the detail page's words."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from google_connect.admin import charts, overview
from google_connect.models import DailyCount, GoogleSecurityEvent, PendingRevocation
from google_connect.store import health
from tests.factories import make_account

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
CHANGELIST = "/admin/google_connect/googleaccount/"
OVERVIEW = CHANGELIST + "overview/"
TOKENS_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"


@pytest.fixture(autouse=True)
def fresh_snapshot(monkeypatch):
    monkeypatch.setattr(health, "_snapshots", {})
    monkeypatch.setattr(overview, "_snapshots", {})


def event(sub="sub-1", **fields):
    return GoogleSecurityEvent.objects.create(
        jti=f"jti-{sub}-{fields.get('accounts_affected', 0)}",
        event_type=TOKENS_REVOKED,
        subject_sub=sub,
        issued_at=timezone.now(),
        **fields,
    )


def test_the_changelist_links_to_the_overview(admin_client):
    assert f'href="{OVERVIEW}"' in admin_client.get(CHANGELIST).content.decode()


def test_the_overview_needs_the_view_permission(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    assert client.get(OVERVIEW).status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="view_googleaccount"))

    assert client.get(OVERVIEW).status_code == 200


def test_the_overview_shows_the_fleet(admin_client):
    now = timezone.now()
    make_account(sub="a")
    make_account(sub="b", status="reconnect_required", reconnect_reason="revoked")
    make_account(sub="c", refresh_token_expires_at=now + timedelta(days=10))
    DailyCount.objects.create(day=timezone.localdate(), kind="refreshes", count=7)
    PendingRevocation.objects.create(email="x@example.com", sub="x", token="1//X")
    event()

    page = admin_client.get(OVERVIEW).content.decode()

    assert "<svg" in page and "<polyline" in page
    assert "Time-limited grants ending in the next 8 weeks" in page
    assert "0 connects, 7 refreshes, 0 refresh failures." in page
    assert '?status=reconnect_required&amp;reconnect_reason=revoked">' in page
    assert ">tokens-revoked</a>" in page
    assert "1//X" not in page


def test_grants_ending_are_counted_by_week(db):
    now = timezone.now()
    make_account(sub="a", refresh_token_expires_at=now + timedelta(days=1))
    make_account(sub="b", authorization_expires_at=now + timedelta(days=9))
    make_account(
        sub="c",
        refresh_token_expires_at=now + timedelta(days=40),
        authorization_expires_at=now + timedelta(days=15),
    )
    make_account(sub="d", refresh_token_expires_at=now + timedelta(days=90))
    make_account(sub="e", refresh_token_expires_at=now - timedelta(days=1))

    from google_connect.admin.overview import grants_ending_by_week

    assert grants_ending_by_week(now, "default") == [1, 1, 1, 0, 0, 0, 0, 0]


def test_the_overview_costs_the_same_queries_for_one_account_or_many(admin_client):
    make_account(sub="a")
    with CaptureQueriesContext(connection) as one:
        admin_client.get(OVERVIEW)
    for n in range(30):
        make_account(sub=f"many-{n}", refresh_token_expires_at=timezone.now() + timedelta(days=n))
    health._snapshots.clear()
    overview._snapshots.clear()

    with CaptureQueriesContext(connection) as many:
        admin_client.get(OVERVIEW)

    assert len(many) == len(one)


def test_the_daily_chart_leaves_out_the_label_too_near_the_last():
    days = [f"{n:02d} Nov" for n in range(1, 31)]

    chart = charts.line_chart("Per day", days, [("refreshes", [1] * 30)])

    # Every seventh day and the last, but not the 29th under the 30th.
    assert re.findall(r'class="gc-label">([^<]*)<', chart) == [
        "01 Nov",
        "08 Nov",
        "15 Nov",
        "22 Nov",
        "30 Nov",
    ]


def test_the_overview_makes_the_queries_its_reference_page_states(admin_client):
    stated = re.search(
        r"makes (\d+) SQL queries while its snapshots are fresh and (\d+) when",
        " ".join((ROOT / "docs" / "reference" / "admin.md").read_text().split()),
    )
    make_account(sub="a")
    admin_client.get(OVERVIEW)  # the snapshots, taken
    with CaptureQueriesContext(connection) as fresh:
        admin_client.get(OVERVIEW)
    health._snapshots.clear()
    overview._snapshots.clear()
    with CaptureQueriesContext(connection) as taking:
        admin_client.get(OVERVIEW)

    assert stated is not None
    assert (len(fresh), len(taking)) == (int(stated[1]), int(stated[2]))


def test_reasons_and_grants_ending_come_from_a_snapshot_at_most_a_minute_old(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(overview.time, "monotonic", lambda: clock[0])
    now = timezone.now()
    overview.account_figures(now, "default")
    make_account(sub="b", status="reconnect_required", reconnect_reason="revoked")
    make_account(sub="c", refresh_token_expires_at=now + timedelta(days=1))

    clock[0] += 59
    with CaptureQueriesContext(connection) as within_the_minute:
        cached = overview.account_figures(now, "default")
    clock[0] += 2
    fresh = overview.account_figures(now, "default")

    assert (len(within_the_minute), cached["reasons"], cached["weeks"][0]) == (0, {}, 0)
    assert (fresh["reasons"], fresh["weeks"][0]) == ({"revoked": 1}, 1)


def test_the_list_has_five_columns(admin_client):
    make_account()
    page = admin_client.get(CHANGELIST).content.decode()
    for column in ("email", "user", "client", "state", "last_refreshed_at"):
        assert f"column-{column}" in page
    head = page.split('id="result_list"', 1)[1].split("</thead>", 1)[0]
    assert head.count('<th scope="col"') == 6  # the checkbox column too


def test_a_removed_clients_id_is_shortened_with_the_whole_id_in_its_title(admin_client):
    # Printed whole, a Google client id made the list scroll sideways.
    removed = "1234567890-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"
    make_account(client_id=removed)

    page = admin_client.get(CHANGELIST).content.decode()

    assert f'<span class="gc-client-id" title="{removed}">1234567890-a…</span>' in page
    assert f">{removed}<" not in page


def test_search_by_sub_finds_the_account(admin_client):
    make_account(sub="1234567890", email="found@example.com")
    make_account(sub="other", email="other@example.com")

    page = admin_client.get(CHANGELIST, {"q": "1234567890"}).content.decode()

    assert "found@example.com" in page and "other@example.com" not in page


GOOGLE_SUB = "104758293847561029384"
CLIENT_ID = "1234567890-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"


def list_with_sql(admin_client, params, term):
    """The list's page, and the SQL of its queries that name ``term``."""
    with CaptureQueriesContext(connection) as captured:
        page = admin_client.get(CHANGELIST, params).content.decode()
    return page, [query["sql"] for query in captured if term in query["sql"]]


def test_a_searched_sub_is_one_exact_look_up(admin_client):
    make_account(sub=GOOGLE_SUB, email="found@example.com")
    make_account(sub="other", email="other@example.com")

    page, sql = list_with_sql(admin_client, {"q": GOOGLE_SUB}, GOOGLE_SUB)

    assert "found@example.com" in page and "other@example.com" not in page
    # UPPER(sub) = UPPER(...) OR'd with LIKEs on the email and the user
    # could use no index: 6.4 s at a million accounts on PostgreSQL.
    assert sql and all("UPPER" not in q and "LIKE" not in q for q in sql), sql
    # Quoted the backend's way: backticks on MariaDB, double quotes elsewhere.
    quote = connection.ops.quote_name
    column = f"{quote('google_connect_googleaccount')}.{quote('sub')}"
    assert all(f"{column} = '{GOOGLE_SUB}'" in q for q in sql), sql


def test_a_searched_client_id_is_one_exact_look_up(admin_client):
    make_account(sub="a", email="found@example.com", client_id=CLIENT_ID)
    make_account(sub="b", email="other@example.com")

    page, sql = list_with_sql(admin_client, {"q": CLIENT_ID}, CLIENT_ID)

    assert "found@example.com" in page and "other@example.com" not in page
    assert sql and all("UPPER" not in q and "LIKE" not in q for q in sql), sql


def test_a_number_shorter_than_a_sub_still_searches_emails_and_users(admin_client):
    make_account(sub="a", email="447700900123@example.com")

    page, sql = list_with_sql(admin_client, {"q": "447700900123"}, "447700900123")

    assert "447700900123@example.com" in page
    assert all("LIKE" in q for q in sql)


def test_the_sub_filter_lists_that_sub_alone_through_an_exact_look_up(admin_client):
    make_account(sub="sub-1", email="found@example.com")
    make_account(sub="sub-10", email="other@example.com")

    page, sql = list_with_sql(admin_client, {"sub": "sub-1"}, "sub-1")

    assert "found@example.com" in page and "other@example.com" not in page
    assert "Clear all filters" in page
    assert sql and all("UPPER" not in q and "LIKE" not in q for q in sql), sql


def test_the_undecryptable_filter_reads_the_stored_flag(admin_client):
    make_account(sub="a", email="flagged@example.com", tokens_undecryptable=True)
    make_account(sub="b", email="fine@example.com")

    page = admin_client.get(CHANGELIST, {"tokens_undecryptable__exact": "1"}).content.decode()

    assert "flagged@example.com" in page and "fine@example.com" not in page


def test_the_time_limited_filter(admin_client):
    make_account(sub="a", email="limited@example.com", authorization_expires_at=timezone.now())
    make_account(sub="b", email="ongoing@example.com")

    page = admin_client.get(CHANGELIST, {"time_limited": "yes"}).content.decode()

    assert "limited@example.com" in page and "ongoing@example.com" not in page


def test_the_idle_filter(admin_client):
    old = timezone.now() - timedelta(days=400)
    make_account(sub="a", email="idle@example.com", last_refreshed_at=old)
    make_account(sub="b", email="busy@example.com", last_refreshed_at=timezone.now())

    page = admin_client.get(CHANGELIST, {"idle": "yes"}).content.decode()

    assert "idle@example.com" in page and "busy@example.com" not in page


def test_the_detail_page_says_a_security_event_removed_the_tokens(admin_client):
    account = make_account(
        sub="sub-1", access_token="", refresh_token="", status="reconnect_required"
    )
    event(accounts_affected=1)

    page = admin_client.get(f"{CHANGELIST}{account.pk}/change/").content.decode()

    assert "no token: removed by a security event (oauth/event-type/tokens-revoked) on" in page


def test_the_detail_page_says_when_the_access_token_is_valid(admin_client):
    account = make_account(expires_at=timezone.now() + timedelta(hours=1))

    page = admin_client.get(f"{CHANGELIST}{account.pk}/change/").content.decode()

    assert "encrypted; the access token is valid until" in page


def test_an_account_links_to_its_security_events_by_sub(admin_client):
    account = make_account(sub="sub-1")
    event()

    page = admin_client.get(f"{CHANGELIST}{account.pk}/change/").content.decode()

    assert '/admin/google_connect/googlesecurityevent/?q=sub-1">1 event</a>' in page


def test_a_security_event_links_to_its_accounts_by_sub(admin_client):
    found = event()

    page = admin_client.get(
        f"/admin/google_connect/googlesecurityevent/{found.pk}/change/"
    ).content.decode()

    assert '/admin/google_connect/googleaccount/?sub=sub-1">sub-1</a>' in page
