"""The revoke_google_accounts management command."""

import logging
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from google_connect.google import retry
from google_connect.models import GoogleAccount
from google_connect.signals import google_account_disconnected
from tests.factories import make_account
from tests.support import TerminalOnStderr, recording

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


class RevokeEndpoint:
    """Answers 200, except for the tokens told to fail or to be already revoked."""

    def __init__(self, google):
        self.failing: set[str] = set()
        self.already_revoked: set[str] = set()
        self.tokens: list[str] = []
        self.on_call = None
        google.mock.add_callback("POST", google.config.REVOKE_URL, callback=self)

    def __call__(self, request):
        token = parse_qs(request.body)["token"][0]
        self.tokens.append(token)
        if self.on_call:
            self.on_call(token)
        if token in self.failing:
            return 503, {}, "{}"
        if token in self.already_revoked:
            return 400, {}, '{"error": "invalid_token"}'
        return 200, {}, "{}"


@pytest.fixture
def revoke_endpoint(google):
    return RevokeEndpoint(google)


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("revoke_google_accounts", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def test_refuses_to_run_without_a_selection(revoke_endpoint):
    make_account()

    with pytest.raises(CommandError, match="Say which accounts"):
        call_command("revoke_google_accounts")
    assert GoogleAccount.objects.count() == 1


def test_all_revokes_and_deletes_every_account(revoke_endpoint):
    accounts = [make_account() for _ in range(3)]

    out, err, error = run("--all")

    assert error is None
    assert out.strip().endswith("3 revoked, 0 already revoked, 0 failed")
    assert err == ""
    assert not GoogleAccount.objects.exists()
    assert sorted(revoke_endpoint.tokens) == sorted(a.refresh_token for a in accounts)


def test_user_selects_by_username_or_id(revoke_endpoint, user, other_user):
    mine = make_account(user)
    theirs = make_account(other_user)
    spare = make_account()

    _, _, error = run("--user", "alice", "--user", str(other_user.pk))

    assert error is None

    assert list(GoogleAccount.objects.all()) == [spare]
    assert sorted(revoke_endpoint.tokens) == sorted([mine.refresh_token, theirs.refresh_token])


def test_email_selects_accounts_case_insensitively(revoke_endpoint):
    make_account(email="Keep@example.com")
    make_account(email="Drop@Example.com")

    _, _, error = run("--email", "drop@example.com")

    assert error is None

    assert list(GoogleAccount.objects.values_list("email", flat=True)) == ["Keep@example.com"]


def test_reconnect_required_selects_only_broken_accounts(revoke_endpoint, user):
    make_account(user, email="ok@example.com")
    make_account(user, status=GoogleAccount.Status.RECONNECT_REQUIRED)

    _, _, error = run("--reconnect-required")

    assert error is None
    assert list(GoogleAccount.objects.values_list("email", flat=True)) == ["ok@example.com"]


def test_reconnect_required_narrows_a_user_selection(revoke_endpoint, user):
    make_account(user, email="ok@example.com")
    make_account(user, status=GoogleAccount.Status.RECONNECT_REQUIRED)
    make_account(status=GoogleAccount.Status.RECONNECT_REQUIRED, email="other@example.com")

    _, _, error = run("--user", "alice", "--reconnect-required")

    assert error is None

    assert sorted(GoogleAccount.objects.values_list("email", flat=True)) == [
        "ok@example.com",
        "other@example.com",
    ]


def test_dry_run_lists_and_calls_nothing(revoke_endpoint, google):
    account = make_account(email="listed@example.com")

    out, _, error = run("--all", "--dry-run")

    assert error is None
    assert f"would revoke: {account.pk} listed@example.com" in out
    assert "1 would be revoked (dry run, nothing called)." in out
    assert len(google.mock.calls) == 0
    assert GoogleAccount.objects.count() == 1


def test_keep_local_keeps_rows_marked_and_without_tokens(revoke_endpoint):
    account = make_account()

    out, _, error = run("--all", "--keep-local")

    assert error is None
    assert "1 revoked" in out
    stored = GoogleAccount.objects.get(pk=account.pk)
    assert stored.status == GoogleAccount.Status.RECONNECT_REQUIRED
    assert stored.reconnect_reason == "revoked"
    assert (stored.access_token, stored.refresh_token) == ("", "")
    # Google's token-revoked events must not find the revoked token any more.
    assert (stored.refresh_token_prefix_digest, stored.refresh_token_digest) == ("", "")


def test_failures_are_reported_without_tokens_and_exit_non_zero(revoke_endpoint):
    good = make_account()
    bad = make_account(email="bad@example.com")
    gone = make_account()
    revoke_endpoint.failing.add(bad.refresh_token)
    revoke_endpoint.already_revoked.add(gone.refresh_token)

    out, err, error = run("--all")

    assert out.strip().endswith("1 revoked, 1 already revoked, 1 failed")
    assert f"failed: account {bad.pk} bad@example.com: " in err
    assert bad.refresh_token not in err and bad.access_token not in err
    assert isinstance(error, CommandError)
    assert list(GoogleAccount.objects.all()) == [bad]
    # The good and the already revoked grant were both sent to Google.
    assert set(revoke_endpoint.tokens) == {
        good.refresh_token,
        bad.refresh_token,
        gone.refresh_token,
    }


def test_many_workers_give_the_same_result_as_one(revoke_endpoint):
    def scenario(workers):
        GoogleAccount.objects.all().delete()
        accounts = [make_account() for _ in range(30)]
        for account in accounts[::7]:
            revoke_endpoint.failing.add(account.refresh_token)
        for account in accounts[1::5]:
            revoke_endpoint.already_revoked.add(account.refresh_token)
        out, _, error = run("--all", "--workers", str(workers))
        assert isinstance(error, CommandError)
        kept = [accounts.index(a) for a in GoogleAccount.objects.order_by("pk")]
        return out.strip().splitlines()[-1], kept

    assert scenario(1) == scenario(8)
    assert scenario(8)[0] == "20 revoked, 5 already revoked, 5 failed"


@pytest.mark.parametrize("workers", ["0", "65"])
def test_workers_are_bounded(revoke_endpoint, workers):
    with pytest.raises(CommandError, match="--workers"):
        call_command("revoke_google_accounts", "--all", "--workers", workers)


def test_all_cannot_be_combined_with_a_user(revoke_endpoint):
    with pytest.raises(CommandError):
        call_command("revoke_google_accounts", "--all", "--user", "alice")


@pytest.mark.django_db(transaction=True)
def test_each_deleted_account_is_signalled(revoke_endpoint):
    accounts = [make_account() for _ in range(3)]
    with recording(google_account_disconnected) as sent:
        _, _, error = run("--all")

    assert error is None

    received = [(kwargs["account"].pk, kwargs["request"]) for kwargs in sent]
    assert sorted(received) == sorted((a.pk, None) for a in accounts)


def test_an_account_reconnected_during_revocation_is_kept(revoke_endpoint):
    account = make_account()
    # What a reconnect while Google was being called leaves behind: a row
    # updated after the command read it.
    GoogleAccount.objects.filter(pk=account.pk).update(
        updated_at=timezone.now() + timedelta(minutes=1)
    )

    out, err, error = run("--all")

    assert "0 revoked, 0 already revoked, 1 failed" in out
    assert "changed while being revoked" in err
    assert GoogleAccount.objects.filter(pk=account.pk).exists()


def test_pages_cover_every_row(revoke_endpoint, monkeypatch):
    monkeypatch.setattr("google_connect.store.revocation.PAGE_SIZE", 4)
    for _ in range(11):
        make_account()

    out, _, error = run("--all", "--workers", "3")

    assert error is None
    assert "11 revoked" in out
    assert not GoogleAccount.objects.exists()


# -- rows no key decrypts (issue 22, item 4) --------------------------------------------


@pytest.fixture
def undecryptable(settings):
    """An account written under a key that is no longer configured."""
    settings.FERNET_KEYS = ["a-key-since-removed"]
    account = make_account(email="lost@example.com")
    settings.FERNET_KEYS = ["tests-fernet-key-one"]
    return account


def test_undecryptable_rows_are_kept_reported_once_and_do_not_fail_the_run(
    revoke_endpoint, undecryptable
):
    fine = make_account()

    out, err, error = run("--all")

    assert error is None
    assert out.splitlines() == [
        "1 revoked, 0 already revoked, 0 failed",
        "1 undecryptable: kept, not revoked; see --include-undecryptable",
    ]
    assert err == ""
    assert revoke_endpoint.tokens == [fine.refresh_token]
    assert list(GoogleAccount.objects.values_list("pk", "status")) == [(undecryptable.pk, "active")]


def test_include_undecryptable_removes_them_without_calling_google(
    revoke_endpoint, undecryptable, django_capture_on_commit_callbacks
):
    with (
        recording(google_account_disconnected) as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        out, err, error = run("--all", "--include-undecryptable")

    assert error is None
    assert out.splitlines() == [
        "0 revoked, 0 already revoked, 0 failed",
        "1 undecryptable: removed, nothing to revoke",
    ]
    assert revoke_endpoint.tokens == []
    assert not GoogleAccount.objects.exists()
    assert [kwargs["account"].pk for kwargs in sent] == [undecryptable.pk]


def test_include_undecryptable_with_keep_local_marks_and_never_deletes(
    revoke_endpoint, undecryptable
):
    out, _, error = run("--all", "--include-undecryptable", "--keep-local")

    assert error is None
    assert "1 undecryptable: marked reconnect_required, nothing to revoke" in out
    assert revoke_endpoint.tokens == []
    stored = GoogleAccount.objects.get()
    assert stored.status == GoogleAccount.Status.RECONNECT_REQUIRED
    assert not stored.tokens_decryptable


# -- what the command says (issue 22, item 14) ------------------------------------------


def test_already_revoked_grants_are_logged_at_info_not_as_warnings(revoke_endpoint, caplog):
    for _ in range(3):
        revoke_endpoint.already_revoked.add(make_account().refresh_token)

    with caplog.at_level("INFO", logger="google_connect"):
        out, _, error = run("--all")

    assert error is None
    assert "0 revoked, 3 already revoked, 0 failed" in out
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert sum("invalid_token" in r.getMessage() for r in caplog.records) == 3


def test_a_user_that_does_not_exist_is_an_error(revoke_endpoint, user):
    make_account(user)

    _, _, error = run("--user", "nobody")

    assert str(error) == "No user 'nobody' exists (--user takes a username or an id)."
    assert GoogleAccount.objects.count() == 1


class Terminal(StringIO):
    def __init__(self, text=""):
        super().__init__(text)

    def isatty(self):
        return True


def test_all_asks_for_confirmation_on_a_terminal(revoke_endpoint, monkeypatch, capsys):
    make_account()
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))

    _, _, error = run("--all")

    assert str(error) == "Revocation cancelled."
    assert "This revokes 1 Google account at Google and deletes it." in capsys.readouterr().out
    assert revoke_endpoint.tokens == []
    assert GoogleAccount.objects.count() == 1


def test_all_goes_ahead_when_confirmed(revoke_endpoint, monkeypatch, capsys):
    make_account(), make_account()
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))

    out, _, error = run("--all")

    assert error is None
    assert "This revokes 2 Google accounts at Google and deletes them." in capsys.readouterr().out
    assert out.endswith("2 revoked, 0 already revoked, 0 failed\n")
    assert not GoogleAccount.objects.exists()


@pytest.mark.parametrize("flag", ["--noinput", "--no-input"])
def test_noinput_skips_the_confirmation(revoke_endpoint, monkeypatch, flag):
    make_account()
    monkeypatch.setattr("sys.stdin", Terminal(""))

    _, _, error = run("--all", flag)

    assert error is None
    assert not GoogleAccount.objects.exists()


def test_one_failure_is_one_google_account_in_the_error(revoke_endpoint):
    revoke_endpoint.failing.add(make_account().refresh_token)

    _, _, error = run("--all")

    assert str(error) == "1 Google account could not be revoked."


def test_failures_are_written_above_the_progress_bar_never_glued_to_it(revoke_endpoint, capsys):
    for _ in range(3):
        revoke_endpoint.failing.add(make_account().refresh_token)

    with pytest.raises(CommandError):
        call_command(
            "revoke_google_accounts", "--all", stdout=StringIO(), stderr=TerminalOnStderr()
        )

    err = capsys.readouterr().err
    assert err.count("failed: account") == 3
    for before in err.split("failed: account")[:-1]:
        assert before.endswith(("\r", "\n")), repr(before[-40:])
