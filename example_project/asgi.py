"""The example project as an ASGI application, for uvicorn, daphne or hypercorn:

    python -m uvicorn example_project.asgi:application --port 8000

google_connect's views are sync: Django runs each request's sync code in a
thread of its own, so a request waiting on Google holds neither the event
loop nor other requests (tests/test_asgi_server.py measures it).
"""

import os

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

application = get_asgi_application()
# As runserver does with DEBUG on: the admin's and google_connect's
# stylesheets, for a local server only (a real site serves them otherwise).
if settings.DEBUG:
    application = ASGIStaticFilesHandler(application)
