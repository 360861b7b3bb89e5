"""Migration 0009: existing accounts get the site's client id, in batches, and keep working."""

import pytest
from django.utils import timezone

from tests.migrations_support import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

APP = "google_connect"
BEFORE = [(APP, "0007_backfill_refresh_token_digests")]
AFTER = [(APP, "0009_googleaccount_client_id")]
# The current model's columns: what GoogleAccount itself reads.
CLIENT_ID = "test-client-id.apps.googleusercontent.com"


@pytest.fixture
def at_0007():
    apps = migrate(BEFORE)
    yield apps
    migrate_to_latest()


def old_rows(apps, count):
    user = apps.get_model("auth", "User").objects.create(username="migrated")
    model = apps.get_model(APP, "GoogleAccount")
    return [
        model.objects.create(
            user_id=user.pk, sub=f"sub-{n}", access_token="ya29.OLD", expires_at=timezone.now()
        ).pk
        for n in range(count)
    ]


def test_existing_rows_get_the_sites_client_id_in_batches(at_0007, monkeypatch):
    from importlib import import_module

    monkeypatch.setattr(import_module(f"{APP}.migrations.0009_googleaccount_client_id"), "BATCH", 2)
    pks = old_rows(at_0007, 5)

    apps = migrate(AFTER)

    rows = apps.get_model(APP, "GoogleAccount").objects.filter(pk__in=pks)
    assert sorted(rows.values_list("client_id", flat=True)) == [CLIENT_ID] * 5


def test_rows_stay_the_default_clients_when_no_client_id_is_configured(at_0007, settings):
    pks = old_rows(at_0007, 2)
    settings.GOOGLE_CONNECT = {}

    apps = migrate(AFTER)

    rows = apps.get_model(APP, "GoogleAccount").objects.filter(pk__in=pks)
    assert list(rows.values_list("client_id", flat=True)) == ["", ""]


def test_migrated_rows_refresh_with_the_default_client(at_0007, google):
    from google_connect.models import GoogleAccount
    from tests.support import token_body

    [pk] = old_rows(at_0007, 1)
    migrate_to_latest()  # every later migration too: the current model is used
    google.token(token_body())

    GoogleAccount.objects.get(pk=pk).get_access_token()

    assert google.token_requests()[0]["client_id"] == [CLIENT_ID]


def test_the_same_sub_may_then_have_a_row_per_client(at_0007):
    old_rows(at_0007, 1)
    apps = migrate(AFTER)
    model = apps.get_model(APP, "GoogleAccount")
    first = model.objects.get()

    model.objects.create(
        user_id=first.user_id,
        sub=first.sub,
        client_id="another-client",
        access_token="ya29.NEW",
        expires_at=timezone.now(),
    )

    assert model.objects.filter(sub=first.sub).count() == 2
