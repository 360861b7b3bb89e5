from django.urls import path, re_path

from google_connect.risc import receiver
from google_connect.web import accounts as account_views
from google_connect.web import health, views
from google_connect.web.api import views as api_views

app_name = "google_connect"

urlpatterns = [
    path("accounts/", account_views.AccountsView.as_view(), name="accounts"),
    path("accounts/authorize", views.AuthorizeView.as_view(), name="authorize"),
    path("accounts/connect", views.ConnectView.as_view(), name="connect"),
    path("accounts/<int:pk>/disconnect", views.DisconnectView.as_view(), name="disconnect"),
    path("api/v1/accounts", api_views.AccountsView.as_view(), name="api-accounts"),
    path(
        "api/v1/accounts/<str:pk>/disconnect",
        api_views.DisconnectView.as_view(),
        name="api-disconnect",
    ),
    path("api/v1/authorize", api_views.AuthorizeView.as_view(), name="api-authorize"),
    path("api/v1/code", api_views.CodeView.as_view(), name="api-code"),
    path("api/v1/openapi.json", api_views.OpenApiView.as_view(), name="api-openapi"),
    # After every API route: anything else under api/v1 is the API's JSON 404.
    re_path(r"^api/v1(?:/|$)", api_views.NotFoundView.as_view()),
    path("risc/events", receiver.RiscReceiverView.as_view(), name="risc"),
    path("health", health.HealthView.as_view(), name="health"),
]
