"""The status at a glance, computed from the SCIM request log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from directory.audit import Actor
from provisioning import services
from provisioning.models import Integration
from provisioning.request_log import request_log_record
from provisioning.status import integration_status

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture
def integration(tenant):
    integration = services.integration_for(tenant=tenant, kind="azure")
    return services.integration_activate(integration=integration, actor=ACTOR)


def log(integration, *, method="GET", path="/scim/Users?filter=userName+eq+%22x%22", status=200, ago=timedelta(0),
        scim_type=""):
    return request_log_record(
        integration=integration, received_at=timezone.now() - ago, method=method, path=path, status=status,
        duration_ms=3, scim_type=scim_type,
    )


def test_waiting_before_any_request(integration):
    status = integration_status(integration)
    assert (status.level, status.text) == ("waiting", "Waiting for the first request from Microsoft Entra ID")


def test_test_connection_alone_reads_as_connected(integration):
    log(integration)
    status = integration_status(integration)
    assert status.level == "connected"
    assert status.text.startswith("Connected — Test Connection received ")


def test_sync_traffic_reads_as_healthy(integration):
    log(integration, ago=timedelta(minutes=10))
    log(integration, method="POST", path="/scim/Users", status=201)
    status = integration_status(integration)
    assert status.level == "healthy" and status.text.startswith("Healthy — last sync activity ")


def test_failures_in_the_last_hour_read_as_failing_with_the_most_common_reason(integration):
    log(integration, method="POST", path="/scim/Users", status=201)
    for _ in range(3):
        log(integration, method="POST", path="/scim/Users", status=409, scim_type="uniqueness")
    log(integration, method="PATCH", path="/scim/Users/x", status=400, scim_type="invalidValue")
    log(integration, method="PATCH", path="/scim/Users/x", status=400, scim_type="invalidValue", ago=timedelta(hours=2))
    status = integration_status(integration)
    assert status.level == "failing"
    assert status.text == "Failing — 4 failed requests in the last hour: userName already exists (409)"


def test_no_request_for_longer_than_the_threshold_reads_as_silent(integration, settings):
    settings.SCIM_SILENCE_HOURS = 3
    log(integration, method="POST", path="/scim/Users", status=201, ago=timedelta(hours=4))
    # Logging it wrote last_request_at (when it was logged, now): as if that was four hours ago too.
    Integration.objects.filter(pk=integration.pk).update(last_request_at=timezone.now() - timedelta(hours=4))
    integration.refresh_from_db()
    status = integration_status(integration)
    assert (status.level, status.text) == ("silent", "Silent — no request for over 3 hours")


def test_last_request_at_counts_even_when_the_log_was_purged(integration):
    Integration.objects.filter(pk=integration.pk).update(last_request_at=timezone.now())
    integration.refresh_from_db()
    assert integration_status(integration).level == "connected"


def test_deactivated(integration):
    integration = services.integration_deactivate(integration=integration, actor=ACTOR)
    assert integration_status(integration).level == "inactive"
