"""The audit trail of Google's security events: read-only in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

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
    list_display = ("short_type", "subject_sub", "reason", "accounts_affected", "received_at")
    list_filter = ("event_type",)
    search_fields = ("jti", "subject_sub", "=audience")
    fields = FIELDS
    readonly_fields = FIELDS
    show_full_result_count = False

    @admin.display(description=GoogleSecurityEvent._meta.get_field("event_type").verbose_name)
    def short_type(self, event: GoogleSecurityEvent) -> str:
        return event.short_type
