"""The stand-in's URLs, shaped like Google's, under the prefix the example project gives."""

from django.urls import path

from . import api, calendar, gsi, risc, views

app_name = "fake_google"

urlpatterns = [
    path("o/oauth2/v2/auth", views.ConsentView.as_view(), name="authorize"),
    path("token", api.TokenView.as_view(), name="token"),
    path("oauth2/v3/userinfo", api.UserInfoView.as_view(), name="userinfo"),
    path("revoke", api.RevokeView.as_view(), name="revoke"),
    # Google Identity Services' script, its code client in popup mode (gsi.py).
    path("gsi/client", gsi.client_script, name="gsi_client"),
    path("gsi/relay", gsi.popup_relay, name="gsi_relay"),
    path("permissions", views.PermissionsView.as_view(), name="permissions"),
    path("avatars/<slug:key>.svg", views.avatar, name="avatar"),
    path("calendar/v3/users/me/calendarList", calendar.CalendarListView.as_view()),
    path("calendar/v3/calendars/primary/events", calendar.EventsView.as_view()),
    # Cross-Account Protection (risc.py); views.PermissionsView pushes its events.
    path(
        ".well-known/risc-configuration",
        risc.RiscConfigurationView.as_view(),
        name="risc_configuration",
    ),
    path("oauth2/v3/certs", risc.JwksView.as_view(), name="risc_jwks"),
]
