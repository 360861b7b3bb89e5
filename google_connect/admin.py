"""Read-only inspection of connected accounts. Tokens are never rendered."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import GoogleAccount

# Fields an operator may see. The token columns are deliberately absent, so
# neither the change form, nor the history, nor a crafted URL can show them.
VISIBLE_FIELDS = (
    "user",
    "sub",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "picture",
    "locale",
    "status",
    "scopes",
    "token_type",
    "expires_at",
    "created_at",
    "updated_at",
)


@admin.register(GoogleAccount)
class GoogleAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "email", "status", "scopes", "expires_at", "created_at")
    list_filter = ("status",)
    list_select_related = ("user",)
    search_fields = ("email", "user__username")
    fields = VISIBLE_FIELDS
    readonly_fields = VISIBLE_FIELDS
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewing stays possible through the view permission; nothing is editable.
        return False
