"""The audit trail of Google's security events: read-only in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from .security_event import GoogleSecurityEvent

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[GoogleSecurityEvent]
else:
    _ModelAdmin = admin.ModelAdmin

FIELDS = (
    "event_type",
    "subject_sub",
    "reason",
    "accounts_affected",
    "action",
    "issued_at",
    "received_at",
    "jti",
)


@admin.register(GoogleSecurityEvent)
class GoogleSecurityEventAdmin(_ModelAdmin):
    list_display = ("short_type", "subject_sub", "reason", "accounts_affected", "received_at")
    list_filter = ("event_type",)
    search_fields = ("jti", "subject_sub")
    fields = FIELDS
    readonly_fields = FIELDS
    show_full_result_count = False

    @admin.display(description=GoogleSecurityEvent._meta.get_field("event_type").verbose_name)
    def short_type(self, event: GoogleSecurityEvent) -> str:
        return event.short_type

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The audit trail is kept whole.
        return False
