"""The example project's own settings, for the how-to's curl session under test.

``tests/test_howto_curl_session.py`` runs the session's ``manage.py`` line as
written, in a process of its own. Everything it reads comes from
``example_project.settings`` (so the line's ``DEMO_MODE=1 DEBUG=1`` must be
there for its command to exist), except the stand-in's database: the live
server's test database instead of the demo's ``.demo/fake_google.sqlite3``,
which a test must never write to.
"""

import os

from example_project import demo
from example_project.settings import *  # noqa: F403

# Only in demo mode: without it the stand-in, and its command, are not installed.
if "fake_google" in DATABASES:  # noqa: F405
    DATABASES["fake_google"] = demo.stand_in_database(  # noqa: F405
        os.environ["CURL_SESSION_STAND_IN_DATABASE"]
    )
