"""A cookie-less authenticator for the JSON API's tests: ``Authorization: Token <username>``.

Test-only: a real one checks a secret token (django-allauth headless, DRF).
"""

from django.contrib.auth import get_user_model


def token_user(request):
    scheme, _, username = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Token" or not username:
        return None
    return get_user_model().objects.filter(username=username).first()


def nobody(request):
    return None


NOT_CALLABLE = 42
