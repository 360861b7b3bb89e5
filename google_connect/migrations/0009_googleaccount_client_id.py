"""Several OAuth clients: each account records the client that issued its grant.

Uniqueness moves from ``sub`` to (``client_id``, ``sub``), ``sub`` keeps an
index of its own, and security events keep the ``aud`` they were addressed
to. Existing rows get the site's current client id (the top-level
``CLIENT_ID``, else ``CLIENTS["default"]``) in batches of BATCH rows, each
its own transaction, so a large table is not locked in one go and an
interrupted run resumes. A row left empty (settings not loaded here) is the
``default`` client's, so nothing is lost either way.
"""

from django.conf import settings
from django.db import migrations, models, transaction

BATCH = 1000


def current_client_id():
    raw = getattr(settings, "GOOGLE_CONNECT", None)
    if not isinstance(raw, dict):
        return ""
    default = (raw.get("CLIENTS") or {}).get("default")
    value = raw.get("CLIENT_ID") or (default.get("CLIENT_ID") if isinstance(default, dict) else "")
    return value if isinstance(value, str) else ""


def backfill(apps, schema_editor):
    client_id = current_client_id()
    if not client_id:
        return
    account_model = apps.get_model("google_connect", "GoogleAccount")
    db = schema_editor.connection.alias
    pending = account_model.objects.using(db).filter(client_id="").order_by("pk")
    while True:
        # The ids first, then an UPDATE by id: MySQL and MariaDB refuse a
        # LIMIT in an IN subquery.
        ids = list(pending.values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        with transaction.atomic(using=db):
            account_model.objects.using(db).filter(pk__in=ids, client_id="").update(
                client_id=client_id
            )


class Migration(migrations.Migration):
    # The backfill's batches are transactions of their own.
    atomic = False

    dependencies = [
        ("google_connect", "0008_pendingrevocation_next_attempt_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="googleaccount",
            name="client_id",
            field=models.CharField(
                blank=True, default="", max_length=255, verbose_name="OAuth client id"
            ),
        ),
        migrations.AddField(
            model_name="googlesecurityevent",
            name="audience",
            field=models.CharField(
                blank=True, default="", max_length=255, verbose_name="OAuth client id"
            ),
        ),
        migrations.AlterField(
            model_name="googleaccount",
            name="reconnect_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("invalid_grant", "Google ended the grant"),
                    ("refresh_token_expired", "Time-limited access ended"),
                    ("reauth_required", "Google asks the user to sign in again"),
                    ("revoked", "Access was removed"),
                    ("account_disabled", "The Google account was disabled"),
                    (
                        "client_removed",
                        "The OAuth client that issued this grant is no longer configured",
                    ),
                ],
                default="",
                max_length=32,
                verbose_name="reconnect reason",
            ),
        ),
        # Before the unique constraint on sub goes: look-ups by sub stay indexed.
        migrations.AddIndex(
            model_name="googleaccount",
            index=models.Index(fields=["sub"], name="google_connect_sub_idx"),
        ),
        migrations.RemoveConstraint(
            model_name="googleaccount",
            name="google_connect_googleaccount_unique_sub",
        ),
        migrations.AddConstraint(
            model_name="googleaccount",
            constraint=models.UniqueConstraint(
                fields=("client_id", "sub"), name="google_connect_googleaccount_unique_client_sub"
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
