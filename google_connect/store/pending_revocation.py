"""No grant left live when an account row goes away some other way.

``disconnect()`` and ``revoke_google_accounts`` revoke at Google before they
delete. Any other deletion (a user deleted, and the cascade with it; a
queryset's ``delete()``) would forget the token while its grant stays live at
Google. So, on ``pre_delete``, the token is kept in a pending revocation, in
the same transaction as the deletion; once that transaction has committed,
Google is asked to revoke it and the pending row goes away. A revocation that
fails stays pending (token encrypted, like the account's), and is tried
again later: ``retry_pending_revocations()`` (the Celery task of that name)
takes the rows whose ``next_attempt_at`` has passed, backing off from 5
minutes, doubling up to a day, for 20 attempts; ``revoke_google_accounts
--pending`` retries every row at once. A row past the cap is kept, never
dropped: its grant may still be live, and ``check_google_accounts`` reports it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models, router, transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleAPIError, GoogleConnectError
from google_connect.fields import UNDECRYPTABLE, EncryptedTextField
from google_connect.google import telemetry
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.google.retry import with_retries
from google_connect.store import activity, disconnection

logger = logging.getLogger("google_connect")

# Retries after a failure: 5 minutes, doubling, never more than a day apart,
# 20 attempts in all (about 2 weeks). Past that the row stays, for an operator.
RETRY_BASE = timedelta(minutes=5)
RETRY_MAX = timedelta(days=1)
MAX_ATTEMPTS = 20
# check_google_accounts fails when a pending revocation is older than this.
OVERDUE_AFTER = timedelta(days=1)


def next_attempt_after(attempts: int) -> timedelta:
    """The wait before the next try, after ``attempts`` failed ones."""
    wait: timedelta = RETRY_BASE * 2 ** max(attempts - 1, 0)
    return min(wait, RETRY_MAX)


class PendingRevocation(models.Model):
    """A deleted account's token, kept until Google has revoked its grant."""

    token = EncryptedTextField(_("token"))
    # Who it was, for the operator: the deleted account's Google id and email.
    sub = models.CharField(_("Google account id"), max_length=255, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # What the last failure was (GoogleAPIError.summary), never Google's body.
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    # When retry_pending_revocations tries again; empty: as soon as it runs.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pending revocation")
        verbose_name_plural = _("pending revocations")
        ordering = ["pk"]
        indexes = [models.Index(fields=["next_attempt_at"], name="google_connect_pending_next")]

    def __str__(self) -> str:
        return self.email or f"Google account {self.sub}"

    def __repr__(self) -> str:
        return f"<PendingRevocation id={self.pk} sub={self.sub!r}>"


@receiver(pre_delete, sender="google_connect.GoogleAccount")
@sensitive_variables()
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
    # Built then saved, not create(token=...): the token would be a plain
    # keyword of QuerySet.create's frame, which error reports print.
    pending = PendingRevocation(token=token, sub=instance.sub, email=instance.email)
    pending.save(using=using, force_insert=True)
    logger.info(
        "Google account deleted without a revoke; revoking after commit: "
        "account_id=%s sub=%s pending_revocation_id=%s",
        instance.pk,
        instance.sub,
        pending.pk,
    )
    transaction.on_commit(lambda: revoke_pending(pending, retry=False), using=using)


@sensitive_variables()
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
        # The span and count of every other revocation (disconnection.revoke).
        with telemetry.operation("revoke"):
            revoked = with_retries(call, what="revoke a grant") if retry else call()
    except GoogleConnectError as exc:
        activity.revocation("failed")
        summary = exc.summary if isinstance(exc, GoogleAPIError) else exc.reason
        pending.attempts += 1
        pending.last_error = summary[:255]
        pending.next_attempt_at = timezone.now() + next_attempt_after(pending.attempts)
        logger.warning(
            "Pending revocation %s failed (%s), attempt %d of %d%s",
            pending.pk,
            summary,
            pending.attempts,
            MAX_ATTEMPTS,
            "; retried from " + pending.next_attempt_at.isoformat()
            if pending.attempts < MAX_ATTEMPTS
            else "; no more automatic retries (revoke_google_accounts --pending)",
        )
        PendingRevocation.objects.using(db).filter(pk=pending.pk).update(
            attempts=models.F("attempts") + 1,
            last_error=pending.last_error,
            next_attempt_at=pending.next_attempt_at,
        )
        return None
    activity.revocation("revoked" if revoked else "already_revoked")
    PendingRevocation.objects.using(db).filter(pk=pending.pk).delete()
    logger.info(
        "Pending revocation %s done: grant %s",
        pending.pk,
        "revoked" if revoked else "was already revoked",
    )
    return revoked


@dataclass
class PendingReport:
    """What a retry of pending revocations did: ``revoked``, ``already_revoked``
    (Google called the grant dead already), and the rows that failed again."""

    revoked: int = 0
    already_revoked: int = 0
    failures: list[PendingRevocation] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def as_dict(self) -> dict[str, int]:
        return {
            "revoked": self.revoked,
            "already_revoked": self.already_revoked,
            "failed": self.failed,
        }


def due(*, now: datetime | None = None, using: str | None = None) -> models.QuerySet[Any]:
    """The pending revocations whose next attempt has come, under the attempt cap."""
    now = now or timezone.now()
    db = using or router.db_for_write(PendingRevocation)
    return PendingRevocation.objects.using(db).filter(
        models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now),
        attempts__lt=MAX_ATTEMPTS,
    )


def retry_pending_revocations(
    *,
    every: bool = False,
    using: str | None = None,
    on_failure: Callable[[PendingRevocation], None] | None = None,
) -> PendingReport:
    """Try the pending revocations again: the due ones, or with ``every`` all of them.

    The scheduled job takes only the due rows, so a grant Google keeps
    refusing to revoke costs one call per backoff step; an operator's
    ``revoke_google_accounts --pending`` takes ``every`` row, past the cap too.
    Reads and writes go to ``using``, or where the router writes them.
    """
    db = using or router.db_for_write(PendingRevocation)
    rows = PendingRevocation.objects.using(db) if every else due(using=db)
    report = PendingReport()
    for pending in rows.order_by("pk").iterator():
        result = revoke_pending(pending)
        if result is None:
            report.failures.append(pending)
            if on_failure is not None:
                on_failure(pending)
        elif result:
            report.revoked += 1
        else:
            report.already_revoked += 1
    return report


def pending_summary(
    *, now: datetime | None = None, using: str | None = None, decrypt: bool = True
) -> dict[str, Any]:
    """For check_google_accounts: how many are pending, the oldest's age, the
    overdue and capped ones, and the ones no key in FERNET_KEYS decrypts (by
    pk; left out when not ``decrypt``)."""
    now = now or timezone.now()
    db = using or router.db_for_write(PendingRevocation)
    rows = PendingRevocation.objects.using(db).order_by("pk")
    oldest = rows.aggregate(oldest=models.Min("created_at"))["oldest"]
    return {
        "count": rows.count(),
        "oldest_age_seconds": None if oldest is None else int((now - oldest).total_seconds()),
        "overdue": rows.filter(created_at__lte=now - OVERDUE_AFTER).count(),
        "past_attempt_cap": rows.filter(attempts__gte=MAX_ATTEMPTS).count(),
        **({"undecryptable_ids": undecryptable_pending_ids(using=db)} if decrypt else {}),
    }


def undecryptable_pending_ids(*, using: str | None = None) -> list[int]:
    """Pending revocations whose token no key in ``FERNET_KEYS`` decrypts."""
    db = using or router.db_for_write(PendingRevocation)
    rows = PendingRevocation.objects.using(db).order_by("pk").only("pk", "token")
    # Through __dict__: what was loaded, without raising for the marker.
    return [row.pk for row in rows.iterator() if row.__dict__.get("token") is UNDECRYPTABLE]
