"""The app's models, where Django and sites look for them.

Each model lives in the package of its concern; importing them here is what
registers them with the app (``apps.get_model("google_connect", ...)``), and
``from google_connect.models import GoogleAccount`` is the documented path.
"""

from google_connect.risc.models import GoogleSecurityEvent
from google_connect.store.activity import DailyCount
from google_connect.store.connect_lock import ConnectLock
from google_connect.store.models import GoogleAccount, GoogleAccountQuerySet
from google_connect.store.pending_revocation import PendingRevocation
from google_connect.web.used_state import UsedState

__all__ = [
    "ConnectLock",
    "DailyCount",
    "GoogleAccount",
    "GoogleAccountQuerySet",
    "GoogleSecurityEvent",
    "PendingRevocation",
    "UsedState",
]
