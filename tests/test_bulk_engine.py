"""The async bulk engine (store/bulk.py) and the commands' --concurrency,
against a stand-in Google on 127.0.0.1."""

import asyncio
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from google_connect.models import GoogleAccount
from google_connect.store import bulk, lease
from tests.factories import make_account
from tests.stub_google import StubGoogle

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stand_in(settings):
    with StubGoogle(token_delay=0.1) as stub:
        settings.GOOGLE_CONNECT = {
            **settings.GOOGLE_CONNECT,
            "TOKEN_URL": stub.token_url,
            "REVOKE_URL": stub.revoke_url,
        }
        yield stub


def expiring(count, **fields):
    return [
        make_account(expires_at=timezone.now() + timedelta(minutes=2), **fields)
        for _ in range(count)
    ]


def test_run_concurrently_keeps_at_most_n_in_flight_and_returns_every_result():
    in_flight, most = 0, 0

    async def work(n):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return n * 2

    async def collect():
        return [pair async for pair in bulk.run_concurrently(range(50), work, 7)]

    results = asyncio.run(collect())

    assert sorted(results) == [(n, n * 2) for n in range(50)]
    assert most == 7


def test_run_concurrently_raises_what_work_raised():
    async def work(n):
        if n == 3:
            raise ValueError("three")
        return n

    async def collect():
        return [pair async for pair in bulk.run_concurrently(range(10), work, 2)]

    with pytest.raises(ValueError, match="three"):
        asyncio.run(collect())


def test_refresh_expiring_on_the_engine_calls_google_once_per_account(stand_in):
    accounts = expiring(30)
    fresh = make_account()
    out = StringIO()

    call_command("check_google_accounts", "--refresh-expiring", "--concurrency", "16", stdout=out)

    assert stand_in.count("token") == 30
    assert "expiring: 30 refreshed, 0 reconnect required, 0 failed" in out.getvalue()
    stored = GoogleAccount.objects.filter(pk__in=[a.pk for a in accounts])
    assert all(a.access_token.startswith("ya29.STUB-") for a in stored)
    assert all(a.expires_at > timezone.now() + timedelta(minutes=50) for a in stored)
    assert not GoogleAccount.objects.exclude(refresh_lease_owner="").exists()
    assert GoogleAccount.objects.get(pk=fresh.pk).access_token == fresh.access_token


def test_a_second_run_refreshes_nothing(stand_in):
    expiring(5)
    call_command("check_google_accounts", "--refresh-expiring", "--concurrency", stdout=StringIO())

    out = StringIO()
    call_command("check_google_accounts", "--refresh-expiring", "--concurrency", stdout=out)

    assert stand_in.count("token") == 5
    assert "expiring: 0 refreshed" in out.getvalue()


def test_an_account_leased_by_another_caller_is_left_to_it(stand_in):
    leased, free = expiring(2)
    GoogleAccount.objects.filter(pk=leased.pk).update(
        refresh_lease_until=timezone.now() + timedelta(seconds=60), refresh_lease_owner="other"
    )

    counts = bulk.run(
        bulk.refresh_accounts(GoogleAccount.objects.expiring_within(timedelta(minutes=10)))
    )

    assert counts == {"refreshed": 1, "reconnect_required": 0, "failed": 0}
    assert GoogleAccount.objects.get(pk=leased.pk).access_token == leased.access_token
    assert GoogleAccount.objects.get(pk=leased.pk).refresh_lease_owner == "other"


def test_a_dead_grant_is_counted_and_marked(stand_in):
    (dead,) = expiring(1, refresh_token="1//DEAD")
    stand_in.revoked.add("1//DEAD")
    out = StringIO()

    call_command("check_google_accounts", "--refresh-expiring", "--concurrency", stdout=out)

    assert "expiring: 0 refreshed, 1 reconnect required, 0 failed" in out.getvalue()
    assert GoogleAccount.objects.get(pk=dead.pk).status == GoogleAccount.Status.RECONNECT_REQUIRED


def test_a_new_refresh_token_updates_the_lookup_digests(stand_in, monkeypatch):
    (account,) = expiring(1)
    answer = stand_in.answer

    def with_new_refresh_token(endpoint, form):
        status, body = answer(endpoint, form)
        return status, {**body, "refresh_token": "1//ROTATED"}

    monkeypatch.setattr(stand_in, "answer", with_new_refresh_token)

    bulk.run(bulk.refresh_accounts(GoogleAccount.objects.filter(pk=account.pk)))

    stored = GoogleAccount.objects.get(pk=account.pk)
    assert stored.refresh_token == "1//ROTATED"
    assert GoogleAccount.objects.filter(pk=account.pk).first().refresh_token_digest != ""
    reference = make_account(refresh_token="1//ROTATED", sub="reference")
    assert stored.refresh_token_digest == reference.refresh_token_digest


def test_one_batch_stores_each_rows_own_answer(stand_in, monkeypatch):
    # One UPDATE writes the batch: some rows get a new refresh token, one
    # narrower scopes, each its own access token; none takes another's.
    accounts = expiring(6)
    answer = stand_in.answer
    renewed = {a.refresh_token for a in accounts[:2]}
    narrowed = accounts[5].refresh_token

    def mixed(endpoint, form):
        status, body = answer(endpoint, form)
        token = form.get("refresh_token", "")
        body = {**body, "access_token": f"ya29.FOR-{token}"}
        if token in renewed:
            body["refresh_token"] = f"{token}-NEW"
        if token == narrowed:
            body["scope"] = "openid"
        return status, body

    monkeypatch.setattr(stand_in, "answer", mixed)

    counts = bulk.run(bulk.refresh_accounts(GoogleAccount.objects.all()))

    assert counts["refreshed"] == 6
    for account in accounts:
        stored = GoogleAccount.objects.get(pk=account.pk)
        assert stored.access_token == f"ya29.FOR-{account.refresh_token}"
        if account.refresh_token in renewed:
            assert stored.refresh_token == f"{account.refresh_token}-NEW"
            assert stored.refresh_token_digest != account.refresh_token_digest
        else:
            assert stored.refresh_token == account.refresh_token
            assert stored.refresh_token_digest == account.refresh_token_digest
        assert (stored.scopes == "openid") is (account.refresh_token == narrowed)
        assert stored.refresh_lease_owner == ""


def test_a_batch_is_counted_once_for_the_overview(stand_in):
    from google_connect.store.activity import DailyCount

    expiring(5)

    bulk.run(bulk.refresh_accounts(GoogleAccount.objects.all()))

    (row,) = DailyCount.objects.filter(kind=DailyCount.Kind.REFRESHES)
    assert row.count == 5


def test_keep_alive_on_the_engine_refreshes_idle_accounts(stand_in):
    idle = make_account()
    GoogleAccount.objects.filter(pk=idle.pk).update(
        created_at=timezone.now() - timedelta(days=200), last_refreshed_at=None
    )
    make_account()  # used recently
    out = StringIO()

    call_command("check_google_accounts", "--keep-alive", "--concurrency", "4", stdout=out)

    assert stand_in.count("token") == 1
    assert "1 refreshed, 0 reconnect required, 0 failed" in out.getvalue()
    assert GoogleAccount.objects.get(pk=idle.pk).last_refreshed_at is not None


def test_revoke_on_the_engine_revokes_and_deletes_every_account(stand_in):
    accounts = [make_account() for _ in range(12)]
    out = StringIO()

    call_command("revoke_google_accounts", "--all", "--noinput", "--concurrency", "5", stdout=out)

    assert out.getvalue().strip() == "12 revoked, 0 already revoked, 0 failed"
    assert stand_in.revoked == {a.refresh_token for a in accounts}
    assert not GoogleAccount.objects.exists()


def test_revoke_on_the_engine_keeps_local_rows_when_asked(stand_in):
    account = make_account()

    call_command(
        "revoke_google_accounts",
        "--all",
        "--noinput",
        "--keep-local",
        "--concurrency",
        stdout=StringIO(),
    )

    stored = GoogleAccount.objects.get(pk=account.pk)
    assert (stored.status, stored.refresh_token) == (GoogleAccount.Status.RECONNECT_REQUIRED, "")


@pytest.mark.django_db(transaction=False)
def test_refresh_with_concurrency_inside_a_transaction_runs_on_the_thread_pool(stand_in):
    # As call_command in an atomic block: the engine's database thread would
    # not see these rows (and on SQLite would wait for the lock).
    expiring(3)
    out = StringIO()

    call_command("check_google_accounts", "--refresh-expiring", "--concurrency", stdout=out)

    assert "expiring: 3 refreshed, 0 reconnect required, 0 failed" in out.getvalue()
    assert stand_in.count("token") == 3


@pytest.mark.django_db(transaction=False)
def test_revoke_with_concurrency_inside_a_transaction_runs_on_the_thread_pool(stand_in):
    accounts = [make_account() for _ in range(3)]
    out = StringIO()

    call_command("revoke_google_accounts", "--all", "--noinput", "--concurrency", stdout=out)

    assert out.getvalue().strip() == "3 revoked, 0 already revoked, 0 failed"
    assert stand_in.revoked == {a.refresh_token for a in accounts}
    assert not GoogleAccount.objects.exists()


@pytest.mark.parametrize("value", ["0", "1025"])
def test_concurrency_out_of_range_is_refused(value):
    with pytest.raises(CommandError, match="--concurrency must be between 1 and 1024"):
        call_command("check_google_accounts", "--keep-alive", "--concurrency", value)


def statements_of_a_batch(count):
    """The statements that write a batch of ``count`` results: all refreshed,
    half of them with a new refresh token, and one that failed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from google_connect.exceptions import GoogleUnavailable
    from google_connect.google.answers import TokenResponse

    accounts = expiring(count + 1)
    owner = lease.new_owner()
    pks = [a.pk for a in accounts]
    _, claimed = bulk._claim_page(GoogleAccount.objects.filter(pk__in=pks), "default", owner, 0)
    batch = [
        (
            row,
            bulk.RefreshResult(
                bulk.REFRESHED,
                response=TokenResponse(
                    access_token=f"ya29.BATCH-{row.pk}",
                    expires_in=3599,
                    token_type="Bearer",
                    scopes=None,
                    refresh_token=f"1//BATCH-{row.pk}" if n % 2 else None,
                ),
            ),
        )
        for n, row in enumerate(claimed[:-1])
    ]
    failure = GoogleUnavailable("for now", temporary=True)
    batch.append((claimed[-1], bulk.RefreshResult(bulk.FAILED, error=failure)))
    with CaptureQueriesContext(connection) as captured:
        settled, left = bulk._settle(batch, "default", owner)
    assert left == []
    assert sorted(outcome for _, outcome in settled) == ["failed"] + ["refreshed"] * count
    for row in claimed[:-1]:
        assert GoogleAccount.objects.get(pk=row.pk).access_token == f"ya29.BATCH-{row.pk}"
    # The accounts' statements (the day's count is one UPDATE, once its row exists).
    table = connection.ops.quote_name(GoogleAccount._meta.db_table).upper()
    sql = [query["sql"].upper() for query in captured.captured_queries]
    return [statement.split()[0] for statement in sql if table in statement]


def test_a_batch_of_results_is_written_with_the_same_statements_however_many():
    # A SELECT of the rows this run still holds (locking them where rows
    # lock), then one UPDATE for the rows with a new refresh token, one for
    # those without, one to end the failed rows' leases: no save per row,
    # so 4 results cost what 40 do.
    few = statements_of_a_batch(4)
    many = statements_of_a_batch(40)

    assert few == many == ["SELECT"] + ["UPDATE"] * 3


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite has no row locks")
def test_a_batch_with_a_row_a_sync_caller_holds_holds_up_no_other_account(settings, monkeypatch):
    """The batch write skips rows locked elsewhere and writes them later:
    a waiting UPDATE would hold asgiref's one database thread, and every
    other async caller's database work, until the lock is released."""
    import threading

    from django.db import transaction

    gate, done = threading.Event(), threading.Event()
    settle_tried, released = threading.Event(), []
    real_settle = bulk._settle

    def settle(*args):
        settle_tried.set()
        return real_settle(*args)

    monkeypatch.setattr(bulk, "_settle", settle)
    with StubGoogle(token_delay=0, gate=gate) as stub:
        settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "TOKEN_URL": stub.token_url}
        locked, other = expiring(2)

        def sync_caller_locks_mid_refresh():
            try:
                while stub.token_calls_in_flight == 0:
                    time.sleep(0.01)
                with transaction.atomic():
                    GoogleAccount.objects.select_for_update().get(pk=locked.pk)
                    gate.set()
                    done.wait(timeout=10)
                    released.append(done.is_set())
            finally:
                connection.close()

        async def run_and_other():
            async def other_once_the_batch_was_tried():
                while not settle_tried.is_set():
                    await asyncio.sleep(0.01)
                await other.aget_access_token(min_validity=timedelta(minutes=10))
                done.set()

            counts, _ = await asyncio.gather(
                bulk.refresh_accounts(GoogleAccount.objects.filter(pk=locked.pk)),
                other_once_the_batch_was_tried(),
            )
            return counts

        holder = threading.Thread(target=sync_caller_locks_mid_refresh)
        holder.start()
        try:
            counts = bulk.run(run_and_other())
        finally:
            gate.set()
            done.set()
            holder.join()

    assert released == [True]
    assert counts == {"refreshed": 1, "reconnect_required": 0, "failed": 0}
    stored = GoogleAccount.objects.get(pk=locked.pk)
    assert stored.access_token.startswith("ya29.STUB-")
    assert stored.refresh_lease_owner == ""
    assert stub.count("token") == 2
