from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def done(request):
    return HttpResponse("done")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("google/", include("google_connect.urls")),
    path("done/", done),
]

if "allauth" in settings.INSTALLED_APPS:
    urlpatterns.append(path("accounts/", include("allauth.urls")))
if "social_django" in settings.INSTALLED_APPS:
    urlpatterns.append(path("social/", include("social_django.urls", namespace="social")))
