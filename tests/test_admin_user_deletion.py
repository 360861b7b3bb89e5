"""Deleting users from the admin: the cascade to their Google accounts goes
through the pending revocation, as any deletion other than a disconnect does."""

from urllib.parse import parse_qs

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from responses import matchers

from google_connect.models import GoogleAccount
from google_connect.risc.models import GoogleSecurityEvent
from google_connect.store.pending_revocation import PendingRevocation
from tests.factories import make_account

pytestmark = pytest.mark.django_db

USERS = "/admin/auth/user/"
ACCOUNTS = "/admin/google_connect/googleaccount/"


def revoked(google):
    return [
        parse_qs(call.request.body)["token"][0]
        for call in google.mock.calls
        if call.request.url == google.config.REVOKE_URL
    ]


def test_the_user_delete_confirmation_asks_no_google_account_permission(admin_client, user):
    make_account(user, email="ada@example.com")

    content = admin_client.get(f"{USERS}{user.pk}/delete/").content.decode()

    assert "doesn't have permission to delete" not in content
    assert "Google account: " in content
    assert "Yes, I’m sure" in content


def test_a_superuser_deletes_a_user_and_their_grant_is_revoked_after_commit(
    admin_client, user, google, django_capture_on_commit_callbacks
):
    account = make_account(user, email="ada@example.com")
    kept = make_account(email="kept@example.com")
    google.revoke(match=[matchers.urlencoded_params_matcher({"token": account.refresh_token})])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{USERS}{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not type(user).objects.filter(pk=user.pk).exists()
    assert list(GoogleAccount.objects.all()) == [kept]
    assert revoked(google) == [account.refresh_token]
    assert not PendingRevocation.objects.exists()


def test_bulk_deleting_users_revokes_every_grant(
    admin_client, django_user_model, google, django_capture_on_commit_callbacks
):
    ada, bob = (
        django_user_model.objects.create_user("ada"),
        django_user_model.objects.create_user("bob"),
    )
    accounts = [make_account(ada), make_account(ada), make_account(bob)]
    google.revoke()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            USERS,
            {"action": "delete_selected", "_selected_action": [ada.pk, bob.pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert not django_user_model.objects.filter(pk__in=[ada.pk, bob.pk]).exists()
    assert not GoogleAccount.objects.exists()
    assert sorted(revoked(google)) == sorted(a.refresh_token for a in accounts)
    assert not PendingRevocation.objects.exists()


def test_a_user_deleted_while_google_answers_503_leaves_a_pending_revocation(
    admin_client, user, google, django_capture_on_commit_callbacks
):
    account = make_account(user, email="ada@example.com", sub="sub-ada")
    google.revoke(status=503)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{USERS}{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not GoogleAccount.objects.exists()
    assert revoked(google) == [account.refresh_token]
    pending = PendingRevocation.objects.get()
    assert (pending.email, pending.sub, pending.token, pending.attempts) == (
        "ada@example.com",
        "sub-ada",
        account.refresh_token,
        1,
    )


def test_deleting_a_user_keeps_the_security_events_of_their_google_account(
    admin_client, user, google, django_capture_on_commit_callbacks
):
    make_account(user, sub="sub-ada")
    event = GoogleSecurityEvent.objects.create(
        jti="jti-1",
        event_type="https://schemas.openid.net/secevent/risc/event-type/sessions-revoked",
        subject_sub="sub-ada",
        issued_at=timezone.now(),
    )
    google.revoke()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"{USERS}{user.pk}/delete/", {"post": "yes"})

    assert list(GoogleSecurityEvent.objects.all()) == [event]


def test_a_staff_user_without_the_account_delete_permission_cannot_cascade(
    client, django_user_model, user, google
):
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["delete_user", "view_user"])
    )
    client.force_login(staff)
    make_account(user)

    response = client.post(f"{USERS}{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert GoogleAccount.objects.filter(user=user).exists()
    assert len(google.mock.calls) == 0


def test_the_account_change_page_deletes_through_the_pending_revocation(
    admin_client, google, django_capture_on_commit_callbacks
):
    account = make_account(email="ada@example.com")
    google.revoke()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{ACCOUNTS}{account.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not GoogleAccount.objects.exists()
    assert revoked(google) == [account.refresh_token]
    assert not PendingRevocation.objects.exists()


def test_the_account_changelist_offers_revoke_and_remove_not_a_plain_bulk_delete(admin_client):
    make_account()

    content = admin_client.get(ACCOUNTS).content.decode()

    assert "revoke_and_remove" in content
    assert "delete_selected" not in content
