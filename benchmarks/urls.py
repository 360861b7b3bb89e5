import secrets

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import include, path


def done(request):
    return HttpResponse("done")


# The floor of the connect-flow benchmark: what any library's two requests
# cost at least (a logged-in user, a state written to the session and taken
# back), with no HTTP call, no account stored and no checks.
@login_required
def floor_start(request):
    state = secrets.token_urlsafe(32)
    request.session["floor_state"] = state
    return HttpResponseRedirect(f"https://accounts.google.com/o/oauth2/v2/auth?state={state}")


@login_required
def floor_callback(request):
    # At Google's latency (benchmarks.latency) the floor also waits out a
    # library's round trips, each on its own as each call to Google is: what a
    # wait costs beyond its own length is then the floor's as much as the
    # library's, and not counted as the library's work.
    from benchmarks.harness import round_trip

    delay = float(request.GET.get("delay", 0))
    for _ in range(int(request.GET.get("round_trips", 0))):
        round_trip(delay)
    request.session.pop("floor_state", None)
    return HttpResponseRedirect("/done/")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("google/", include("google_connect.urls")),
    path("done/", done),
    path("floor/start", floor_start),
    path("floor/callback", floor_callback),
]

if "allauth" in settings.INSTALLED_APPS:
    urlpatterns.append(path("accounts/", include("allauth.urls")))
if "social_django" in settings.INSTALLED_APPS:
    urlpatterns.append(path("social/", include("social_django.urls", namespace="social")))
