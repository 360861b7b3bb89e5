"""google_connect's pages inside the site's own layout: the ``BASE_TEMPLATE`` setting.

Every page template of the app extends ``google_connect/base.html``, which
extends the template named by ``BASE_TEMPLATE`` (the site's base template),
or ``google_connect/layout.html``, a minimal layout, when it is None. The
pages fill the blocks ``title`` and ``content`` (and add to ``head`` when
the base template has one). Every view of the app renders through
``render_page`` so that the pages know which base to extend.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from google_connect.conf import get_settings

LAYOUT = "google_connect/layout.html"
# The context variable google_connect/base.html extends.
BASE_TEMPLATE_VARIABLE = "google_connect_base_template"


def render_page(
    request: HttpRequest,
    template_name: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render one of google_connect's page templates in the site's layout."""
    context = {**(context or {}), BASE_TEMPLATE_VARIABLE: get_settings().BASE_TEMPLATE or LAYOUT}
    return render(request, template_name, context, status=status)
