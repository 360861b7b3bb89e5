"""FERNET_KEYS rotation, and rows that no configured key can decrypt."""

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from fernet_fields import hkdf

from google_connect.exceptions import GoogleConnectError, UndecryptableToken
from google_connect.models import GoogleAccount
from google_connect.store import rotation
from google_connect.store.health import summary
from google_connect.store.pending_revocation import PendingRevocation
from google_connect.store.rotation import rotate_keys
from tests.factories import make_account
from tests.support import TerminalOnStderr, connect, token_body, userinfo_body

pytestmark = pytest.mark.django_db

OLD, NEW, UNRELATED = "old-fernet-key", "new-fernet-key", "a-key-nobody-used"


def raw_tokens(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM google_connect_googleaccount WHERE id = %s",
            [pk],
        )
        return tuple(bytes(value) for value in cursor.fetchone())


def decrypts_with(key, ciphertext):
    return Fernet(hkdf.derive_fernet_key(key)).decrypt(ciphertext).decode()


def rotate(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("rotate_google_token_keys", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue().strip(), err.getvalue(), exc
    return out.getvalue().strip(), err.getvalue(), None


@pytest.fixture
def old_key_accounts(settings):
    settings.FERNET_KEYS = [OLD]
    return [
        make_account(access_token=f"ya29.ROT-{n}", refresh_token=f"1//ROT-{n}") for n in range(3)
    ]


def test_rotation_re_encrypts_every_row_with_the_first_key(settings, old_key_accounts):
    before = {a.pk: GoogleAccount.objects.get(pk=a.pk).updated_at for a in old_key_accounts}
    settings.FERNET_KEYS = [NEW, OLD]

    out, err, error = rotate()

    assert (out, err, error) == (
        "3 accounts, 0 pending revocations re-encrypted, 0 already current, 0 undecryptable",
        "",
        None,
    )
    for n, account in enumerate(old_key_accounts):
        access, refresh = raw_tokens(account.pk)
        assert decrypts_with(NEW, access) == f"ya29.ROT-{n}"
        assert decrypts_with(NEW, refresh) == f"1//ROT-{n}"
        assert GoogleAccount.objects.get(pk=account.pk).updated_at == before[account.pk]
    # The old key can go now.
    settings.FERNET_KEYS = [NEW]
    assert [a.access_token for a in GoogleAccount.objects.order_by("pk")] == [
        "ya29.ROT-0",
        "ya29.ROT-1",
        "ya29.ROT-2",
    ]


def test_rotation_can_be_run_again(settings, old_key_accounts):
    settings.FERNET_KEYS = [NEW, OLD]
    rotate()
    snapshot = [raw_tokens(a.pk) for a in old_key_accounts]

    out, _, error = rotate()

    assert out == (
        "0 accounts, 0 pending revocations re-encrypted, 3 already current, 0 undecryptable"
    )
    assert error is None
    assert [raw_tokens(a.pk) for a in old_key_accounts] == snapshot


def test_dry_run_counts_and_writes_nothing(settings, old_key_accounts):
    snapshot = [raw_tokens(a.pk) for a in old_key_accounts]
    settings.FERNET_KEYS = [NEW, OLD]

    out, _, error = rotate("--dry-run")

    assert out == (
        "3 accounts, 0 pending revocations would be re-encrypted, 0 already current, "
        "0 undecryptable"
    )
    assert error is None
    assert [raw_tokens(a.pk) for a in old_key_accounts] == snapshot


def test_undecryptable_rows_are_reported_untouched_and_fail_the_command(settings):
    settings.FERNET_KEYS = [OLD]
    lost = make_account(email="lost@example.com")
    settings.FERNET_KEYS = [UNRELATED]
    kept = make_account(email="kept@example.com")
    settings.FERNET_KEYS = [NEW, UNRELATED]
    lost_before = raw_tokens(lost.pk)

    out, err, error = rotate()

    assert out == (
        "1 account, 0 pending revocations re-encrypted, 0 already current, 1 undecryptable"
    )
    assert f"undecryptable: account {lost.pk} lost@example.com" in err
    assert isinstance(error, CommandError)
    assert raw_tokens(lost.pk) == lost_before
    assert decrypts_with(NEW, raw_tokens(kept.pk)[0]) == kept.access_token


# -- rows no configured key can decrypt ------------------------------------------------


@pytest.fixture
def lost_account(settings, user):
    settings.FERNET_KEYS = [OLD]
    account = make_account(user, email="lost@example.com", sub="lost-sub")
    settings.FERNET_KEYS = [NEW]
    return GoogleAccount.objects.get(pk=account.pk)


def test_a_lost_row_loads_but_reading_its_tokens_raises_naming_fernet_keys(lost_account):
    assert lost_account.email == "lost@example.com"
    assert lost_account.tokens_decryptable is False
    with pytest.raises(UndecryptableToken, match="FERNET_KEYS") as raised:
        _ = lost_account.refresh_token
    assert isinstance(raised.value, GoogleConnectError)
    with pytest.raises(UndecryptableToken):
        _ = lost_account.access_token


def test_a_lost_row_is_never_sent_to_google(lost_account, google):
    GoogleAccount.objects.filter(pk=lost_account.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    lost_account.refresh_from_db()

    with pytest.raises(UndecryptableToken):
        lost_account.get_access_token()
    assert GoogleAccount.objects.filter(pk=lost_account.pk).exists()
    # Nothing Google would accept: the row can still be removed (issue 11).
    assert lost_account.disconnect() is False

    assert len(google.mock.calls) == 0
    assert not GoogleAccount.objects.filter(pk=lost_account.pk).exists()


def test_saving_a_lost_row_keeps_its_ciphertext(lost_account):
    before = raw_tokens(lost_account.pk)

    lost_account.name = "Renamed"
    lost_account.save()

    assert raw_tokens(lost_account.pk) == before
    assert GoogleAccount.objects.get(pk=lost_account.pk).name == "Renamed"


def test_the_admin_lists_a_lost_row_with_a_marker(admin_client, lost_account):
    ok = make_account(email="fine@example.com")
    # check_google_accounts stores what it found; the list reads the flag.
    summary()

    changelist = admin_client.get("/admin/google_connect/googleaccount/")
    change = admin_client.get(f"/admin/google_connect/googleaccount/{lost_account.pk}/change/")

    assert changelist.status_code == 200 and change.status_code == 200
    assert "lost@example.com" in changelist.content.decode()
    assert changelist.content.decode().count("⚠ undecryptable") == 1
    assert "undecryptable" in change.content.decode()
    assert ok.email in changelist.content.decode()


def test_reconnecting_with_a_new_refresh_token_heals_a_lost_row(alice, google, lost_account):
    response = connect(
        alice,
        google,
        token=token_body(access_token="ya29.HEALED", refresh_token="1//HEALED"),
        userinfo=userinfo_body(sub="lost-sub", email="lost@example.com"),
    )

    assert response.status_code == 200
    healed = GoogleAccount.objects.get(pk=lost_account.pk)
    assert (healed.access_token, healed.refresh_token) == ("ya29.HEALED", "1//HEALED")


def test_reconnecting_without_a_refresh_token_asks_to_start_over(alice, google, lost_account):
    revoke = google.revoke()

    response = connect(
        alice,
        google,
        token=token_body(refresh_token=None),
        userinfo=userinfo_body(sub="lost-sub"),
    )

    assert response.status_code == 400
    assert 'data-reason="missing_refresh_token"' in response.content.decode()
    assert revoke.call_count == 1


# -- pending revocations (issue 22, item 1) -----------------------------------------


def raw_pending_token(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM google_connect_pendingrevocation WHERE id = %s", [pk])
        return bytes(cursor.fetchone()[0])


def pending(token, email="gone@example.com"):
    return PendingRevocation.objects.create(token=token, sub=f"sub-{token}", email=email)


def test_rotation_re_encrypts_pending_revocations_and_counts_them_apart(settings):
    settings.FERNET_KEYS = [OLD]
    make_account(access_token="ya29.ACC", refresh_token="1//ACC")
    rows = [pending("1//PENDING-1"), pending("1//PENDING-2")]
    settings.FERNET_KEYS = [NEW, OLD]

    out, err, error = rotate()

    assert (out, err, error) == (
        "1 account, 2 pending revocations re-encrypted, 0 already current, 0 undecryptable",
        "",
        None,
    )
    assert [decrypts_with(NEW, raw_pending_token(row.pk)) for row in rows] == [
        "1//PENDING-1",
        "1//PENDING-2",
    ]


def test_the_documented_rotation_procedure_leaves_pending_revocations_revocable(
    settings, user, google, no_backoff, django_capture_on_commit_callbacks
):
    settings.FERNET_KEYS = [OLD]
    make_account(user, refresh_token="1//DELETED-USER")
    google.revoke(status=503)
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()  # Google is down: the grant stays pending, under the old key
    [row] = PendingRevocation.objects.all()

    settings.FERNET_KEYS = [NEW, OLD]  # 1. the new key first
    out, _, error = rotate()  # 2. rotate
    settings.FERNET_KEYS = [NEW]  # 3. drop the old key
    google.mock.replace("POST", google.config.REVOKE_URL, json={}, status=200)
    revoke_out = StringIO()
    call_command("revoke_google_accounts", "--pending", stdout=revoke_out)

    assert (out, error) == (
        "0 accounts, 1 pending revocation re-encrypted, 0 already current, 0 undecryptable",
        None,
    )
    assert revoke_out.getvalue().strip() == "1 revoked, 0 already revoked, 0 failed"
    revoked = [
        c.request.body for c in google.mock.calls if c.request.url == google.config.REVOKE_URL
    ]
    assert revoked[-1] == "token=1%2F%2FDELETED-USER"
    assert not PendingRevocation.objects.filter(pk=row.pk).exists()


def test_an_undecryptable_pending_revocation_is_named_by_pk_and_fails_the_command(settings):
    settings.FERNET_KEYS = [UNRELATED]
    lost = pending("1//LOST-PENDING", email="lost@example.com")
    settings.FERNET_KEYS = [NEW, OLD]
    before = raw_pending_token(lost.pk)

    out, err, error = rotate()

    assert (
        out == "0 accounts, 0 pending revocations re-encrypted, 0 already current, 1 undecryptable"
    )
    assert err == (
        f"undecryptable: pending revocation {lost.pk} lost@example.com: no key in FERNET_KEYS "
        "decrypts its token; left untouched\n"
    )
    assert "1//LOST-PENDING" not in err + str(error)
    assert str(error) == (
        "0 accounts and 1 pending revocation could not be decrypted with any key in FERNET_KEYS."
    )
    assert raw_pending_token(lost.pk) == before


def test_rotate_keys_reports_pending_revocations_and_skips_current_ones(settings):
    settings.FERNET_KEYS = [OLD]
    stale = pending("1//STALE")
    settings.FERNET_KEYS = [NEW, OLD]
    current = pending("1//CURRENT")
    untouched = raw_pending_token(current.pk)

    report = rotate_keys()

    assert (report.pending_rotated, report.pending_current, report.pending_undecryptable) == (
        1,
        1,
        [],
    )
    assert (report.rotated, report.current) == (0, 0)
    assert decrypts_with(NEW, raw_pending_token(stale.pk)) == "1//STALE"
    assert raw_pending_token(current.pk) == untouched


def test_rotate_keys_with_pending_ids_rotates_only_those(settings):
    settings.FERNET_KEYS = [OLD]
    account = make_account()
    chosen, other = pending("1//CHOSEN"), pending("1//OTHER")
    account_before, other_before = raw_tokens(account.pk), raw_pending_token(other.pk)
    settings.FERNET_KEYS = [NEW, OLD]

    report = rotate_keys(pending_ids=[chosen.pk])

    assert (report.pending_rotated, report.rotated) == (1, 0)
    assert decrypts_with(NEW, raw_pending_token(chosen.pk)) == "1//CHOSEN"
    assert raw_pending_token(other.pk) == other_before
    assert raw_tokens(account.pk) == account_before


def test_a_pending_revocation_re_encrypted_meanwhile_is_not_rewritten(settings, monkeypatch):
    settings.FERNET_KEYS = [NEW, OLD]
    row = pending("1//RACED")  # under the new key, as a concurrent run left it
    before = raw_pending_token(row.pk)
    looks = []
    original = rotation.classify

    def stale_at_the_first_look(ciphertexts):
        looks.append(ciphertexts)
        return rotation.STALE if len(looks) == 1 else original(ciphertexts)

    monkeypatch.setattr(rotation, "classify", stale_at_the_first_look)

    report = rotate_keys()

    assert (report.pending_rotated, report.pending_current) == (0, 1)
    assert raw_pending_token(row.pk) == before


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_a_row_re_encrypted_meanwhile_is_not_rewritten(settings, old_key_accounts, monkeypatch):
    first, second, _ = old_key_accounts
    settings.FERNET_KEYS = [NEW, OLD]
    meanwhile = {}
    write = rotation._write_guarded

    def another_run_rotates_the_second_row_first(model, db, columns, stale):
        # Read already as stale by this run; another run rotates it now.
        monkeypatch.setattr(rotation, "_write_guarded", write)
        assert rotation.rotate_keys(ids=[second.pk]).rotated == 1
        meanwhile["second"] = raw_tokens(second.pk)
        return write(model, db, columns, stale)

    monkeypatch.setattr(rotation, "_write_guarded", another_run_rotates_the_second_row_first)

    report = rotation.rotate_keys()

    assert (report.rotated, report.current) == (2, 1)
    assert raw_tokens(second.pk) == meanwhile["second"]


def test_rotating_some_ids_leaves_the_other_rows_alone(settings, old_key_accounts):
    first, second, third = old_key_accounts
    settings.FERNET_KEYS = [NEW, OLD]

    report = rotation.rotate_keys(ids=[second.pk])

    assert (report.rotated, report.current, report.undecryptable) == (1, 0, [])
    assert decrypts_with(NEW, raw_tokens(second.pk)[0]) == "ya29.ROT-1"
    for account in (first, third):
        assert decrypts_with(OLD, raw_tokens(account.pk)[0]) == account.access_token


def test_undecryptable_rows_are_written_above_the_progress_bar_never_glued_to_it(settings, capsys):
    settings.FERNET_KEYS = [UNRELATED]
    for n in range(2):
        make_account(email=f"lost-{n}@example.com")
        pending(f"1//LOST-{n}")
    settings.FERNET_KEYS = [NEW, OLD]

    with pytest.raises(CommandError):
        call_command("rotate_google_token_keys", stdout=StringIO(), stderr=TerminalOnStderr())

    err = capsys.readouterr().err
    assert err.count("undecryptable: ") == 4
    for before in err.split("undecryptable: ")[:-1]:
        assert before.endswith(("\r", "\n")), repr(before[-40:])


def statements_of_a_rotation():
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        rotate_keys()
    sql = [query["sql"].lstrip().upper() for query in captured.captured_queries]
    return len(sql), sum(statement.startswith("UPDATE") for statement in sql)


def test_a_chunk_of_stale_rows_is_written_with_the_same_statements_however_many(settings):
    # One guarded UPDATE per chunk, no save per row: 3 stale accounts and
    # pending revocations cost what 40 do.
    def stale_rows(count, key):
        settings.FERNET_KEYS = [key]
        for n in range(count):
            make_account(access_token=f"ya29.{key}-{n}", refresh_token=f"1//{key}-{n}")
            PendingRevocation(token=f"1//PENDING-{key}-{n}").save()

    stale_rows(3, OLD)
    settings.FERNET_KEYS = [NEW, OLD]
    few = statements_of_a_rotation()
    # The 3 rows now under NEW, and 37 more: 40 stale once UNRELATED comes first.
    stale_rows(37, NEW)
    settings.FERNET_KEYS = [UNRELATED, NEW]
    many = statements_of_a_rotation()

    assert GoogleAccount.objects.count() == 40
    assert decrypts_with(
        UNRELATED, raw_tokens(GoogleAccount.objects.order_by("pk").first().pk)[1]
    ) == ("1//old-fernet-key-0")
    assert many == few
    # An UPDATE for the accounts, one for the pending revocations, and the
    # undecryptable flags cleared.
    assert few[1] <= 3


def flagged():
    return set(GoogleAccount.objects.filter(tokens_undecryptable=True).values_list("pk", flat=True))


def test_rotation_stores_the_undecryptable_flag_and_clears_it_where_a_key_decrypts(settings):
    settings.FERNET_KEYS = [OLD]
    lost = make_account(email="lost@example.com")
    settings.FERNET_KEYS = [NEW]
    healed = make_account(email="healed@example.com")
    # Flagged by an earlier run, before its key came back.
    GoogleAccount.objects.filter(pk=healed.pk).update(tokens_undecryptable=True)

    rotate_keys()

    assert flagged() == {lost.pk}


def test_a_dry_run_stores_no_undecryptable_flag(settings):
    settings.FERNET_KEYS = [OLD]
    lost = make_account(email="lost@example.com")
    settings.FERNET_KEYS = [NEW]

    report = rotate_keys(dry_run=True)

    assert report.undecryptable == [(lost.pk, "lost@example.com")]
    assert flagged() == set()


def test_rotating_some_ids_stores_the_flag_for_those_alone(settings):
    settings.FERNET_KEYS = [OLD]
    lost = make_account(email="lost@example.com")
    settings.FERNET_KEYS = [NEW]
    healed, elsewhere = make_account(sub="healed"), make_account(sub="elsewhere")
    GoogleAccount.objects.filter(pk__in=[healed.pk, elsewhere.pk]).update(tokens_undecryptable=True)

    rotate_keys(ids=[lost.pk, healed.pk])

    # elsewhere was not looked at: its flag stays until a run reads it.
    assert flagged() == {lost.pk, elsewhere.pk}
