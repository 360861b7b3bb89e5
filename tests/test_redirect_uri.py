"""The redirect URI sent to Google follows wherever the site mounts the callback.

The authorize view reverses the callback's path once per URL resolver, script
prefix and language; each test changes one of them between two requests.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import clear_script_prefix, clear_url_caches, include, path, set_script_prefix
from django.utils import translation

from tests.support import start_flow

pytestmark = pytest.mark.django_db

DEFAULT = "http://testserver/google/accounts/connect"

# ROOT_URLCONF = this module in some tests.
urlpatterns = [path("google/", include("google_connect.urls"))]


# A URLconf of its own for some requests, as django-hosts and the like set it.
class Elsewhere:
    urlpatterns = [path("elsewhere/google/", include("google_connect.urls"))]


class ElsewhereForSomeRequests:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/elsewhere/"):
            request.urlconf = Elsewhere
        return self.get_response(request)


def redirect_uri(client, url):
    response = client.get(url)
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["redirect_uri"][0]


def test_the_redirect_uri_follows_the_root_urlconf(alice, settings):
    assert start_flow(alice)["redirect_uri"] == DEFAULT

    settings.ROOT_URLCONF = "tests.i18n_urls"

    with translation.override("en"):
        assert redirect_uri(alice, "/en/google/accounts/authorize") == (
            "http://testserver/en/google/accounts/connect"
        )


def test_the_redirect_uri_follows_a_urlconf_set_for_the_request(alice, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.ElsewhereForSomeRequests"]
    assert start_flow(alice)["redirect_uri"] == DEFAULT

    assert redirect_uri(alice, "/elsewhere/google/accounts/authorize") == (
        "http://testserver/elsewhere/google/accounts/connect"
    )
    assert start_flow(alice)["redirect_uri"] == DEFAULT


def test_the_redirect_uri_follows_a_reloaded_urlconf(alice, settings):
    settings.ROOT_URLCONF = __name__
    assert start_flow(alice)["redirect_uri"] == DEFAULT

    # What a URLconf rebuilt at run time does (django CMS apphooks, say).
    urlpatterns[:] = [path("moved/google/", include("google_connect.urls"))]
    clear_url_caches()
    try:
        moved = redirect_uri(alice, "/moved/google/accounts/authorize")
    finally:
        urlpatterns[:] = [path("google/", include("google_connect.urls"))]
        clear_url_caches()

    assert moved == "http://testserver/moved/google/accounts/connect"


def test_the_redirect_uri_follows_the_language(alice, settings):
    settings.ROOT_URLCONF = "tests.i18n_urls"

    with translation.override("en"):
        english = redirect_uri(alice, "/en/google/accounts/authorize")
    with translation.override("fr"):
        french = redirect_uri(alice, "/fr/google/accounts/authorize")

    assert english == "http://testserver/en/google/accounts/connect"
    assert french == "http://testserver/fr/google/accounts/connect"


def test_the_redirect_uri_follows_the_script_prefix(alice):
    assert start_flow(alice)["redirect_uri"] == DEFAULT

    # What a WSGI server sets for a site mounted under /site (the test client
    # does not set it).
    set_script_prefix("/site/")
    try:
        mounted = start_flow(alice)["redirect_uri"]
    finally:
        clear_script_prefix()

    assert mounted == "http://testserver/site/google/accounts/connect"
