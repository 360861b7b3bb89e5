"""A security event Google pushed (Cross-Account Protection): the audit trail."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Event type URIs all begin with this.
SECEVENT = "https://schemas.openid.net/secevent/"


class GoogleSecurityEvent(models.Model):
    """One accepted Security Event Token (RFC 8417), and what google_connect did about it."""

    jti = models.CharField(_("token id"), max_length=255, unique=True)
    # The full URI, as Google sent it.
    event_type = models.CharField(_("event type"), max_length=255)
    # The Google account the event names by ``sub``; None when it names none
    # (a token no account holds, a verification): the "nullable".
    subject_sub = models.CharField(  # noqa: DJ001
        _("Google account id"), max_length=255, null=True, blank=True
    )
    # The token's ``aud``: the id of the OAuth client it was addressed to.
    audience = models.CharField(_("OAuth client id"), max_length=255, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    issued_at = models.DateTimeField(_("issued at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    accounts_affected = models.PositiveIntegerField(_("accounts affected"), default=0)
    action = models.CharField(_("action"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("Google security event")
        verbose_name_plural = _("Google security events")
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["received_at", "id"], name="google_connect_event_recv_idx"),
            models.Index(fields=["event_type"], name="google_connect_event_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.short_type} ({self.jti})"

    @property
    def short_type(self) -> str:
        """The event type without the common ``https://schemas.openid.net/secevent/``."""
        return self.event_type.removeprefix(SECEVENT)
