"""Let load-balancer health checks through with an IP address as ``Host``.

An ALB health check is sent to the target's private IP and carries that IP as ``Host``,
which ``ALLOWED_HOSTS`` rightly refuses (400). Listing the task's IP is impossible (it
changes with every task) and ``*`` would give up host validation for every page. So, only
for ``GET``/``HEAD`` of the two probe paths and only when ``Host`` is an IP literal (with
an optional port), this middleware vouches for the host of that one request. It must come
before ``CommonMiddleware``, the first to validate the host. Every other request, including
other paths with an IP ``Host``, is validated as usual.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PROBE_PATHS = frozenset({"/api/health", "/api/ready"})
_METHODS = frozenset({"GET", "HEAD"})


def ip_literal_host(host: str) -> bool:
    """Whether ``host`` is ``IPv4[:port]`` or ``[IPv6][:port]`` and nothing else."""
    if host.startswith("["):
        address, bracket, port = host[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return False
        port = port[1:]
    else:
        address, _, port = host.partition(":")
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5):
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


class HealthCheckHostMiddleware:
    """Accepts an IP-literal ``Host`` for ``GET``/``HEAD`` of the probe paths only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = request.META.get("HTTP_HOST", "")
        if request.path in PROBE_PATHS and request.method in _METHODS and ip_literal_host(host):
            # Shadows HttpRequest.get_host for this request only; ALLOWED_HOSTS is untouched.
            request.get_host = lambda: host  # type: ignore[method-assign]
        return self.get_response(request)
