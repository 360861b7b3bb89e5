from typing import Any

from django.apps import apps
from django.http import HttpRequest


def demo_mode(request: HttpRequest) -> dict[str, Any]:
    """``demo_mode``: True when the stand-in for Google is installed, for the banner."""
    return {"demo_mode": apps.is_installed("example_project.fake_google")}
