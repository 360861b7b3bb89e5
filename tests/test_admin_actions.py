"""The admin's "Revoke and remove" and "Refresh access token" actions."""

from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from google_connect.google import retry
from google_connect.models import GoogleAccount
from tests.factories import make_account

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/google_connect/googleaccount/"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


def act(client, action, accounts):
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [a.pk for a in accounts]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_revoke_and_remove_reports_each_account(admin_client, google):
    ok = make_account(email="ok@example.com")
    failing = make_account(email="failing@example.com")
    google.mock.add_callback(
        "POST",
        google.config.REVOKE_URL,
        callback=lambda request: (
            (503, {}, "{}")
            if parse_qs(request.body)["token"] == [failing.refresh_token]
            else (200, {}, "{}")
        ),
    )

    messages = act(admin_client, "revoke_and_remove", [ok, failing])

    assert "Revoked and removed ok@example.com." in messages
    assert any(
        m.startswith("Failed for failing@example.com: Google kept failing") for m in messages
    )
    assert list(GoogleAccount.objects.all()) == [failing]
    assert all(failing.refresh_token not in m for m in messages)


def test_refresh_action_reports_each_account(admin_client, google):
    fine = make_account(email="fine@example.com", expires_at=timezone.now() + timedelta(hours=1))
    broken = make_account(
        email="broken@example.com", status=GoogleAccount.Status.RECONNECT_REQUIRED
    )
    google.token({"access_token": "ya29.ADMIN-NEW", "expires_in": 3599, "token_type": "Bearer"})

    messages = act(admin_client, "refresh_access_token", [fine, broken])

    assert "Access token refreshed for fine@example.com." in messages
    assert "The user of broken@example.com must connect again." in messages
    assert GoogleAccount.objects.get(pk=fine.pk).access_token == "ya29.ADMIN-NEW"
    assert all("ya29" not in m for m in messages)


def test_delete_needs_the_delete_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_googleaccount"))
    client.force_login(viewer)
    account = make_account()

    response = client.post(f"{CHANGELIST}{account.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert GoogleAccount.objects.exists()


def test_actions_need_their_permissions(client, django_user_model, google):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_googleaccount"))
    client.force_login(viewer)
    account = make_account()

    content = client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "revoke_and_remove", "_selected_action": [account.pk]})

    assert "revoke_and_remove" not in content
    assert GoogleAccount.objects.exists()
    assert len(google.mock.calls) == 0


def test_messages_show_emails_as_they_are(admin_client, google):
    # The admin capitalises each message's first letter (capfirst).
    account = make_account(email="ok@example.com")
    google.revoke()

    response = admin_client.post(
        CHANGELIST,
        {"action": "revoke_and_remove", "_selected_action": [account.pk]},
        follow=True,
    )

    content = response.content.decode()
    assert "Revoked and removed ok@example.com." in content
    assert "Ok@example.com" not in content
