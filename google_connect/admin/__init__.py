"""Read-only admin pages: connected accounts, pending revocations, security events.

Django's admin autodiscovery imports this package; each module registers its
model admins.
"""

from google_connect.admin.accounts import GoogleAccountAdmin, PendingRevocationAdmin
from google_connect.admin.security_events import GoogleSecurityEventAdmin

__all__ = ["GoogleAccountAdmin", "GoogleSecurityEventAdmin", "PendingRevocationAdmin"]
