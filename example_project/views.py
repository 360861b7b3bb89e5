from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    accounts = request.user.google_accounts.all() if request.user.is_authenticated else []
    return render(request, "home.html", {"accounts": accounts})
