"""Portico's URLs plus ``/slow?seconds=N``, which exists only under slow_settings."""

import time

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as portico_urlpatterns


def slow(request: HttpRequest) -> JsonResponse:
    time.sleep(float(request.GET.get("seconds", "1")))
    return JsonResponse({"slept": True})


urlpatterns = [path("slow", slow), *portico_urlpatterns]
