"""Grant lifetimes: end dates, last use, and the expiry warning's marker.

Every new column is nullable without a default, so PostgreSQL adds it to the
catalog only: no table rewrite and no long ACCESS EXCLUSIVE lock, whatever
the table's size. ``last_refreshed_at`` is then backfilled from
``updated_at`` (the last time a token was stored, or later) in short batches,
each its own transaction, so no long transaction holds every row's lock.
"""

from django.db import migrations, models

BATCH_SIZE = 1000


def backfill_last_refreshed_at(apps, schema_editor):
    from django.db import transaction
    from django.db.models import F

    account_model = apps.get_model("google_connect", "GoogleAccount")
    db = schema_editor.connection.alias
    rows = account_model.objects.using(db).filter(last_refreshed_at__isnull=True)
    while True:
        with transaction.atomic(using=db):
            batch = list(rows.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
            if not batch:
                return
            rows.filter(pk__in=batch).update(last_refreshed_at=F("updated_at"))


class Migration(migrations.Migration):
    # The backfill commits batch by batch (see the module docstring).
    atomic = False

    dependencies = [
        ("google_connect", "0004_usedstate_pendingrevocation"),
    ]

    operations = [
        migrations.AddField(
            model_name="googleaccount",
            name="refresh_token_expires_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="refresh token expires at"
            ),
        ),
        migrations.AddField(
            model_name="googleaccount",
            name="authorization_expires_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="grant expires at"),
        ),
        migrations.AddField(
            model_name="googleaccount",
            name="last_refreshed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last refreshed at"),
        ),
        migrations.AddField(
            model_name="googleaccount",
            name="expiry_warned_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="expiry warning sent at"
            ),
        ),
        migrations.RunPython(backfill_last_refreshed_at, migrations.RunPython.noop),
    ]
