from django.apps import apps
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("events/", views.next_events, name="events"),
    path("spa/", views.spa, name="spa"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("google/", include("google_connect.urls")),
]

# Demo mode only: with a real Google client configured the stand-in is not
# installed, and none of its URLs exist.
if apps.is_installed("example_project.fake_google"):
    urlpatterns.append(path("fake-google/", include("example_project.fake_google.urls")))
