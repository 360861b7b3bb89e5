"""Views gated by scope sets, for the decorator, mixin and middleware tests."""

from django.http import HttpResponse
from django.urls import include, path
from django.views import View

from google_connect.decorators import google_scopes_required
from google_connect.mixins import GoogleScopesRequiredMixin


def describe(request):
    account = request.google_account
    missing = ",".join(request.google_missing_scope_sets)
    return HttpResponse(f"account={account.pk if account else None} missing={missing}")


@google_scopes_required("calendar")
def calendar_view(request):
    return describe(request)


@google_scopes_required("calendar", "drive", redirect_field_name="back")
def both_view(request):
    return describe(request)


class CalendarView(GoogleScopesRequiredMixin, View):
    google_scope_sets = ("calendar",)

    def get(self, request):
        return describe(request)


class BothView(GoogleScopesRequiredMixin, View):
    google_scope_sets = ("calendar", "drive")
    redirect_field_name = "back"

    def get(self, request):
        return describe(request)


def uses_the_token(request):
    request.user.google_accounts.get().get_access_token()
    return HttpResponse("unreachable")


urlpatterns = [
    path("calendar/", calendar_view),
    path("both/", both_view),
    path("cbv/", CalendarView.as_view()),
    path("cbv-both/", BothView.as_view()),
    path("token/", uses_the_token),
    path("google/", include("google_connect.urls")),
]
