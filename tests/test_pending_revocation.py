"""No grant left live when a row goes away some other way (issue 11, item 8)."""

from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from google_connect.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation
from tests.factories import make_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_backoff")]


class RevokeEndpoint:
    def __init__(self, google):
        self.tokens: list[str] = []
        self.status = 200
        self.body = "{}"
        google.mock.add_callback("POST", google.config.REVOKE_URL, callback=self)

    def __call__(self, request):
        self.tokens.append(parse_qs(request.body)["token"][0])
        return self.status, {}, self.body


@pytest.fixture
def revoke_endpoint(google):
    return RevokeEndpoint(google)


def pending_command(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("revoke_google_accounts", "--pending", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue().strip(), err.getvalue(), exc
    return out.getvalue().strip(), err.getvalue(), None


def test_deleting_a_user_revokes_their_grants_after_commit(
    revoke_endpoint, user, django_capture_on_commit_callbacks
):
    first, second = make_account(user), make_account(user)
    bystander = make_account()

    with django_capture_on_commit_callbacks() as callbacks:
        user.delete()
        assert revoke_endpoint.tokens == []  # nothing before the commit
    for callback in callbacks:
        callback()

    assert sorted(revoke_endpoint.tokens) == sorted([first.refresh_token, second.refresh_token])
    assert list(GoogleAccount.objects.all()) == [bystander]
    assert not PendingRevocation.objects.exists()


def test_a_queryset_delete_revokes_after_commit(
    revoke_endpoint, django_capture_on_commit_callbacks
):
    doomed = make_account(email="doomed@example.com")
    make_account(email="kept@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        GoogleAccount.objects.filter(email="doomed@example.com").delete()

    assert revoke_endpoint.tokens == [doomed.refresh_token]
    assert not PendingRevocation.objects.exists()


def test_the_pending_token_is_encrypted_at_rest(revoke_endpoint, user):
    account = make_account(user, refresh_token="1//KEEP-ME-SECRET")

    user.delete()  # inside the test's transaction: not committed, not revoked yet

    [pending] = PendingRevocation.objects.all()
    assert pending.token == "1//KEEP-ME-SECRET"
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM google_connect_pendingrevocation")
        [(raw,)] = cursor.fetchall()
    assert b"KEEP-ME-SECRET" not in bytes(raw)
    assert "KEEP-ME-SECRET" not in repr(pending) + str(pending)
    assert (pending.sub, pending.email) == (account.sub, account.email)


def test_a_rolled_back_deletion_leaves_nothing_pending(revoke_endpoint, user):
    make_account(user)

    with pytest.raises(RuntimeError), transaction.atomic():
        user.delete()
        raise RuntimeError("changed my mind")

    assert not PendingRevocation.objects.exists()
    assert GoogleAccount.objects.count() == 1


def test_a_failed_revoke_stays_pending_until_the_command_completes_it(
    revoke_endpoint, user, django_capture_on_commit_callbacks
):
    account = make_account(user, email="stuck@example.com")
    revoke_endpoint.status = 503

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    [pending] = PendingRevocation.objects.all()
    assert (pending.attempts, pending.email) == (1, "stuck@example.com")
    assert pending.last_error == "revoke endpoint: HTTP 503"
    assert revoke_endpoint.tokens == [account.refresh_token]

    out, err, error = pending_command()
    assert isinstance(error, CommandError)
    assert out == "0 revoked, 0 already revoked, 1 failed"
    assert (
        f"failed: pending revocation {pending.pk} stuck@example.com: revoke endpoint: HTTP 503"
        in err
    )
    assert account.refresh_token not in err
    assert PendingRevocation.objects.get().attempts == 2

    revoke_endpoint.status = 200
    out, err, error = pending_command()

    assert error is None
    assert out == "1 revoked, 0 already revoked, 0 failed"
    assert not PendingRevocation.objects.exists()
    assert revoke_endpoint.tokens[-1] == account.refresh_token


def test_disconnect_and_the_revoke_command_leave_nothing_pending(
    revoke_endpoint, django_capture_on_commit_callbacks
):
    one, two = make_account(), make_account()

    with django_capture_on_commit_callbacks(execute=True):
        one.disconnect()
        call_command("revoke_google_accounts", "--all", stdout=StringIO())

    assert revoke_endpoint.tokens == [one.refresh_token, two.refresh_token]
    assert not PendingRevocation.objects.exists()


def test_an_account_without_a_usable_token_leaves_nothing_pending(revoke_endpoint, user):
    make_account(user, access_token="", refresh_token="")

    user.delete()

    assert not PendingRevocation.objects.exists()


def test_pending_cannot_be_combined_with_a_selection(revoke_endpoint):
    _, _, error = pending_command("--all")

    assert "--pending cannot be combined" in str(error)


@pytest.mark.parametrize("concurrency", [[], ["16"]], ids=["--concurrency", "--concurrency 16"])
def test_pending_refuses_concurrency_rather_than_ignore_it(revoke_endpoint, concurrency):
    PendingRevocation(token="1//STILL-PENDING").save()

    out, _, error = pending_command("--concurrency", *concurrency)

    assert str(error) == "--concurrency cannot be combined with --pending."
    assert (out, revoke_endpoint.tokens) == ("", [])
    assert PendingRevocation.objects.count() == 1


def test_pending_refuses_workers_rather_than_ignore_it(revoke_endpoint):
    PendingRevocation(token="1//STILL-PENDING").save()

    out, _, error = pending_command("--workers", "4")

    assert str(error) == "--workers cannot be combined with --pending."
    assert (out, revoke_endpoint.tokens) == ("", [])
    assert PendingRevocation.objects.count() == 1


def test_pending_revocations_show_in_the_admin_without_the_token(admin_client, user):
    make_account(user, email="gone@example.com", refresh_token="1//ADMIN-SECRET")
    user.delete()

    page = admin_client.get("/admin/google_connect/pendingrevocation/").content.decode()

    assert "gone@example.com" in page
    assert "ADMIN-SECRET" not in page


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_a_grant_google_reports_already_dead_is_no_longer_pending(
    revoke_endpoint, user, django_capture_on_commit_callbacks
):
    make_account(user)
    revoke_endpoint.status = 503
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert PendingRevocation.objects.count() == 1

    revoke_endpoint.status = 400
    revoke_endpoint.body = '{"error": "invalid_token"}'
    out, _, error = pending_command()

    assert error is None
    assert out == "0 revoked, 1 already revoked, 0 failed"
    assert not PendingRevocation.objects.exists()


def test_a_grant_already_dead_at_the_deletion_leaves_nothing_pending(
    revoke_endpoint, user, django_capture_on_commit_callbacks
):
    make_account(user)
    revoke_endpoint.status = 400
    revoke_endpoint.body = '{"error": "invalid_token"}'

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert len(revoke_endpoint.tokens) == 1
    assert not PendingRevocation.objects.exists()
