"""One grant per Google account and OAuth client, as Google keeps them.

Tokens and codes now say which scopes they cover (a consent without
``include_granted_scopes`` covers less than the grant holds). Rows made
before cover what their grant held; an account's several live grants to one
client, from earlier consents, become one.
"""

from django.db import migrations, models


def one_grant_per_account_and_client(apps, schema_editor):
    db = schema_editor.connection.alias
    Grant = apps.get_model("fake_google", "Grant")
    Token = apps.get_model("fake_google", "Token")
    AuthorizationCode = apps.get_model("fake_google", "AuthorizationCode")
    for grant in Grant.objects.using(db).all():
        Token.objects.using(db).filter(grant=grant).update(scopes=grant.scopes)
        AuthorizationCode.objects.using(db).filter(grant=grant).update(scopes=grant.scopes)
    kept = {}
    for grant in Grant.objects.using(db).filter(revoked_at__isnull=True).order_by("-pk"):
        key = (grant.client_id, grant.identity)
        if key not in kept:
            kept[key] = grant
            continue
        newest = kept[key]
        newest.scopes = " ".join(dict.fromkeys([*newest.scopes.split(), *grant.scopes.split()]))
        newest.save(update_fields=["scopes"])
        Token.objects.using(db).filter(grant=grant).update(grant=newest)
        AuthorizationCode.objects.using(db).filter(grant=grant).update(grant=newest)
        grant.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("fake_google", "0004_signingkey"),
    ]

    operations = [
        migrations.AddField(
            model_name="authorizationcode",
            name="scopes",
            field=models.TextField(default=""),
        ),
        migrations.AddField(
            model_name="token",
            name="scopes",
            field=models.TextField(default=""),
        ),
        migrations.RunPython(one_grant_per_account_and_client, migrations.RunPython.noop),
    ]
