"""google_connect, django-allauth's Google provider and social-app-django's
``google-oauth2`` backend installed side by side, for the connect-flow
benchmark: one process, one database, the same middleware, session engine and
password hasher for all three."""

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "social_django",
]
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "social_core.backends.google.GoogleOAuth2",
]

# django-allauth: the app configured in settings, access and refresh tokens
# stored, offline access asked for as google_connect does. allauth 65 still
# queries its SocialApp table on every flow even so (its app look-up reads
# the table before it adds the apps from settings): those queries are part of
# its count, as they are of any site that uses it this way.
SOCIALACCOUNT_STORE_TOKENS = True
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APP": {"client_id": "bench-client-id.apps.googleusercontent.com", "secret": "BENCH"},
        "AUTH_PARAMS": {"access_type": "offline", "prompt": "consent"},
    }
}

# social-app-django
SOCIAL_AUTH_GOOGLE_OAUTH2_KEY = "bench-client-id.apps.googleusercontent.com"
SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET = "BENCH"
SOCIAL_AUTH_GOOGLE_OAUTH2_AUTH_EXTRA_ARGUMENTS = {"access_type": "offline", "prompt": "consent"}
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_JSONFIELD_ENABLED = True
