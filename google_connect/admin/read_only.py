"""The admin pages of google_connect's models show rows and never change them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdmin:
    """No add, change or delete in the admin; the view permission still shows the rows.

    Mixed in before ``admin.ModelAdmin``. Pending revocations go once their
    grant is revoked at Google (the revoke command); the security events are
    the audit trail, kept whole. The Google account admin allows deletion again
    (see there): a user's deletion cascades to their accounts.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
