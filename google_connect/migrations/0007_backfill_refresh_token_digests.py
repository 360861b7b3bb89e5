"""Store the lookup digests of every refresh token stored before 0006.

Batches of BATCH rows, each its own transaction (``atomic = False``), so a
large table is neither locked nor rewritten in one go, and an interrupted run
resumes where it stopped (rows with digests are skipped). Rows no configured
key can decrypt are skipped and counted: their user connects again anyway.
"""

import logging

from django.db import migrations, transaction

from google_connect.fields import UNDECRYPTABLE
from google_connect.token_digests import DOUBLE_SHA512, PREFIX, digest

BATCH = 500
logger = logging.getLogger("google_connect")


def backfill(apps, schema_editor):
    account_model = apps.get_model("google_connect", "GoogleAccount")
    db = schema_editor.connection.alias
    pending = (
        account_model.objects.using(db)
        .filter(refresh_token_digest="")
        .order_by("pk")
        .only("pk", "refresh_token")
    )
    last_pk = 0
    skipped = 0
    while True:
        rows = list(pending.filter(pk__gt=last_pk)[:BATCH])
        if not rows:
            break
        last_pk = rows[-1].pk
        changed = []
        for row in rows:
            # __dict__: the attribute raises for a value no key decrypts.
            token = row.__dict__["refresh_token"]
            if token is UNDECRYPTABLE:
                skipped += 1
                continue
            if not token:
                continue
            row.refresh_token_prefix_digest = digest(PREFIX, token)
            row.refresh_token_digest = digest(DOUBLE_SHA512, token)
            changed.append(row)
        with transaction.atomic(using=db):
            account_model.objects.using(db).bulk_update(
                changed, ["refresh_token_prefix_digest", "refresh_token_digest"]
            )
    if skipped:
        logger.warning(
            "google_connect: %d refresh token(s) could not be decrypted; no lookup digest "
            "stored for them",
            skipped,
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("google_connect", "0006_googlesecurityevent_refresh_token_digests"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
