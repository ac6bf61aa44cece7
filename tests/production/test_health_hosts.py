"""ALB health checks carry the target's IP as Host: the probe paths answer them, nothing else.

ALLOWED_HOSTS stays as configured (here Django's test default plus localhost); an IP-literal
Host is accepted for GET/HEAD of /api/health and /api/ready only.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest

from apps.core.health_hosts import ip_literal_host

TARGET_IPS = ["10.0.3.17", "10.0.3.17:8000", "[fd00:ec2::17]", "[fd00:ec2::17]:8000"]


@pytest.mark.parametrize("host", TARGET_IPS)
def test_health_answers_an_alb_check_with_the_targets_ip_as_host(client, host):
    response = client.get("/api/health", HTTP_HOST=host)
    assert response.status_code == HTTPStatus.OK
    assert client.head("/api/health", HTTP_HOST=host).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_ready_answers_an_alb_check_with_the_targets_ip_as_host(client, entra):
    response = client.get("/api/ready", HTTP_HOST="10.0.3.17:8000")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "ready"


@pytest.mark.parametrize(
    "path", ["/api/me", "/api/metrics", "/admin/", "/config.json", "/", "/api/health/"]
)
def test_other_paths_with_an_ip_host_are_still_refused(client, path):
    assert client.get(path, HTTP_HOST="10.0.3.17").status_code == HTTPStatus.BAD_REQUEST


def test_only_reads_of_the_probe_paths_are_let_through(client):
    assert client.post("/api/health", HTTP_HOST="10.0.3.17").status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    "host", ["evil.example.com", "10.0.3.17.evil.example.com", "10.0.3.17:80:80", "10.0.3"]
)
def test_probe_paths_still_refuse_host_names_not_allowed(client, host):
    assert client.get("/api/health", HTTP_HOST=host).status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.0.3.17", True),
        ("10.0.3.17:8000", True),
        ("[::1]:8000", True),
        ("[fd00::1]", True),
        ("::1", False),  # IPv6 must be bracketed in Host
        ("[fd00::1]x", False),
        ("10.0.3.17:", True),  # empty port, as Django's own host parsing allows
        ("10.0.3.17:http", False),
        ("10.0.3.17:123456", False),
        ("localhost", False),
        ("", False),
        ("10.0.3.17 ", False),
    ],
)
def test_ip_literal_host(host, expected):
    assert ip_literal_host(host) is expected
