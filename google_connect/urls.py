from django.urls import path

from . import account_views, receiver, views

app_name = "google_connect"

urlpatterns = [
    path("accounts/", account_views.AccountsView.as_view(), name="accounts"),
    path("accounts/authorize", views.AuthorizeView.as_view(), name="authorize"),
    path("accounts/connect", views.ConnectView.as_view(), name="connect"),
    path("accounts/<int:pk>/disconnect", views.DisconnectView.as_view(), name="disconnect"),
    path("risc/events", receiver.RiscReceiverView.as_view(), name="risc"),
]
