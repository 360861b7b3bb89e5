"""The app mounted under language prefixes (/en/google/..., /fr/google/...)."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path

urlpatterns = i18n_patterns(path("google/", include("google_connect.urls")))
