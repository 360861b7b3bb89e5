"""The audit trail of Google's security events: read-only in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from google_connect.admin.read_only import ReadOnlyAdmin
from google_connect.risc.models import GoogleSecurityEvent

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[GoogleSecurityEvent]
else:
    _ModelAdmin = admin.ModelAdmin

FIELDS = (
    "event_type",
    "subject_sub",
    "audience",
    "reason",
    "accounts_affected",
    "action",
    "issued_at",
    "received_at",
    "jti",
)


@admin.register(GoogleSecurityEvent)
class GoogleSecurityEventAdmin(ReadOnlyAdmin, _ModelAdmin):
    list_display = ("short_type", "accounts", "reason", "accounts_affected", "received_at")
    list_filter = ("event_type",)
    search_fields = ("jti", "subject_sub", "=audience")
    fields = (*FIELDS, "accounts")
    readonly_fields = (*FIELDS, "accounts")
    show_full_result_count = False

    @admin.display(description=_("Google accounts"), ordering="subject_sub")
    def accounts(self, event: GoogleSecurityEvent) -> str:
        # The accounts of the event's sub, found by sub (no foreign key: see
        # accounts.py), through the list's exact filter rather than its search:
        # whatever the sub's shape, no other account matches, and the index serves it.
        if not event.subject_sub:
            return "-"
        url = reverse("admin:google_connect_googleaccount_changelist")
        return format_html(
            '<a href="{}?{}">{}</a>', url, urlencode({"sub": event.subject_sub}), event.subject_sub
        )

    @admin.display(description=GoogleSecurityEvent._meta.get_field("event_type").verbose_name)
    def short_type(self, event: GoogleSecurityEvent) -> str:
        return event.short_type
