from django.urls import path

from google_connect.risc import receiver
from google_connect.web import accounts as account_views
from google_connect.web import health, views

app_name = "google_connect"

urlpatterns = [
    path("accounts/", account_views.AccountsView.as_view(), name="accounts"),
    path("accounts/authorize", views.AuthorizeView.as_view(), name="authorize"),
    path("accounts/connect", views.ConnectView.as_view(), name="connect"),
    path("accounts/<int:pk>/disconnect", views.DisconnectView.as_view(), name="disconnect"),
    path("risc/events", receiver.RiscReceiverView.as_view(), name="risc"),
    path("health", health.HealthView.as_view(), name="health"),
]
