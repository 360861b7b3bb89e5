"""A sliver of the Calendar API v3: the calendar list and the primary calendar's events.

Enough for the example's "Your next events" page: a Bearer access token of a
grant that holds a Calendar scope gets a couple of demo events, dated from
now so they are always upcoming; any other token gets Google's 401 or 403.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views import View

from .api import bearer_access_token
from .identities import IDENTITIES

CALENDAR_SCOPES = {
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.readonly",
}
# (summary, days from now, hour, duration in minutes)
DEMO_EVENTS = [
    ("Analytical Engine review", 1, 10, 60),
    ("Tea with Charles Babbage", 3, 16, 45),
]


def api_error(status: int, message: str, reason: str) -> JsonResponse:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return JsonResponse(body, status=status)


class CalendarView(View):
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        row = bearer_access_token(request)
        if row is None:
            return api_error(401, "Request had invalid authentication credentials.", "authError")
        if not CALENDAR_SCOPES & set(row.scope_list):
            return api_error(
                403, "Request had insufficient authentication scopes.", "insufficientPermissions"
            )
        return JsonResponse(self.body(IDENTITIES[row.grant.identity].email))

    def body(self, email: str) -> dict[str, Any]:
        raise NotImplementedError


class CalendarListView(CalendarView):
    """``calendar/v3/users/me/calendarList``: the user's one (primary) calendar."""

    def body(self, email: str) -> dict[str, Any]:
        calendar = {"kind": "calendar#calendarListEntry", "id": email, "summary": email}
        return {"kind": "calendar#calendarList", "items": [{**calendar, "primary": True}]}


class EventsView(CalendarView):
    """``calendar/v3/calendars/primary/events``: the demo events, soonest first."""

    def body(self, email: str) -> dict[str, Any]:
        today = timezone.now().replace(minute=0, second=0, microsecond=0)
        items = []
        for n, (summary, days, hour, minutes) in enumerate(DEMO_EVENTS, start=1):
            start = (today + timedelta(days=days)).replace(hour=hour)
            end = start + timedelta(minutes=minutes)
            items.append(
                {
                    "kind": "calendar#event",
                    "id": f"demo{n}",
                    "status": "confirmed",
                    "summary": summary,
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": end.isoformat()},
                }
            )
        return {"kind": "calendar#events", "summary": email, "items": items}
