"""Settings of the uvicorn server that tests/test_asgi_server.py starts.

The suite's settings, on the test run's own database (``DATABASE_URL``, which
the test sets to it) and with Google's endpoints at the stand-in the test
runs (``STAND_IN_GOOGLE_URL``).
"""

from tests.settings import *  # noqa: F403
from tests.settings import GOOGLE_CONNECT, env

STAND_IN = env.str("STAND_IN_GOOGLE_URL")
HEALTH_TOKEN = env.str("HEALTH_TOKEN")

GOOGLE_CONNECT = {
    **GOOGLE_CONNECT,
    "AUTHORIZE_URL": f"{STAND_IN}/auth",
    "TOKEN_URL": f"{STAND_IN}/token",
    "USERINFO_URL": f"{STAND_IN}/userinfo",
    "REVOKE_URL": f"{STAND_IN}/revoke",
    "HEALTH_TOKEN": HEALTH_TOKEN,
    # Longer than the stand-in holds a call (test_asgi_server.GATE_TIMEOUT).
    "TIMEOUT": 25,
}
