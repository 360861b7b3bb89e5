"""No grant left live when an account row goes away some other way.

``disconnect()`` and ``revoke_google_accounts`` revoke at Google before they
delete. Any other deletion (a user deleted, and the cascade with it; a
queryset's ``delete()``) would forget the token while its grant stays live at
Google. So, on ``pre_delete``, the token is kept in a pending revocation, in
the same transaction as the deletion; once that transaction has committed,
Google is asked to revoke it and the pending row goes away. A revocation that
fails stays pending (token encrypted, like the account's) until
``revoke_google_accounts --pending`` completes it; the admin lists them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import models, router, transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleAPIError, GoogleConnectError
from google_connect.fields import EncryptedTextField
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.google.retry import with_retries
from google_connect.store import disconnection

logger = logging.getLogger("google_connect")


class PendingRevocation(models.Model):
    token = EncryptedTextField(_("token"))
    # Who it was, for the operator: the deleted account's Google id and email.
    sub = models.CharField(_("Google account id"), max_length=255, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # What the last failure was (GoogleAPIError.summary), never Google's body.
    last_error = models.CharField(_("last error"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("pending revocation")
        verbose_name_plural = _("pending revocations")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.email or f"Google account {self.sub}"

    def __repr__(self) -> str:
        return f"<PendingRevocation id={self.pk} sub={self.sub!r}>"


@receiver(pre_delete, sender="google_connect.GoogleAccount")
@sensitive_variables("token")
def keep_grant_for_revocation(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    if disconnection.deleting_revoked():
        return
    token = disconnection.revocable_token(instance)
    if token is None:
        logger.info(
            "Google account deleted with no token to revoke: account_id=%s sub=%s",
            instance.pk,
            instance.sub,
        )
        return
    # On the deletion's own database and in its transaction: a rolled-back
    # deletion leaves nothing pending, a committed one cannot lose the token.
    pending = PendingRevocation.objects.using(using).create(
        token=token, sub=instance.sub, email=instance.email
    )
    logger.info(
        "Google account deleted without a revoke; revoking after commit: "
        "account_id=%s sub=%s pending_revocation_id=%s",
        instance.pk,
        instance.sub,
        pending.pk,
    )
    transaction.on_commit(lambda: revoke_pending(pending, retry=False), using=using)


@sensitive_variables("call")
def revoke_pending(pending: PendingRevocation, *, retry: bool = True) -> bool | None:
    """Revoke a pending revocation's token; delete the row when Google confirmed.

    Returns True (revoked now), False (it was already dead), or None when
    Google could not be told: the row stays, with the failure counted. Right
    after a deletion the call is made once (``retry=False``): the request that
    deleted must not wait out backoffs, and the row keeps the token.
    """
    db = router.db_for_write(PendingRevocation, instance=pending)
    client = GoogleOAuthClient()

    def call() -> bool:
        return client.revoke(pending.token)

    try:
        revoked = with_retries(call, what="revoke a grant") if retry else call()
    except GoogleConnectError as exc:
        summary = exc.summary if isinstance(exc, GoogleAPIError) else exc.reason
        logger.warning(
            "Pending revocation %s failed (%s); revoke_google_accounts --pending retries it",
            pending.pk,
            summary,
        )
        pending.last_error = summary[:255]
        PendingRevocation.objects.using(db).filter(pk=pending.pk).update(
            attempts=models.F("attempts") + 1, last_error=pending.last_error
        )
        return None
    PendingRevocation.objects.using(db).filter(pk=pending.pk).delete()
    logger.info(
        "Pending revocation %s done: grant %s",
        pending.pk,
        "revoked" if revoked else "was already revoked",
    )
    return revoked
