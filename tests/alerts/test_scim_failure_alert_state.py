"""The request path moves the alerting state cheaply and claims each email once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from provisioning import alerts
from provisioning.models import Integration, Notification, ScimRequest
from tests.scim_traffic import active_integration, conflict, scim_request


@pytest.fixture
def integration(tenant, admin):
    return active_integration(tenant)


@pytest.fixture
def enqueued(monkeypatch):
    """The tasks the request path queues (on commit), instead of sending them to Redis."""
    calls = []
    monkeypatch.setattr(alerts, "_enqueue_on_commit", lambda name, *args, countdown: calls.append((name, args)))
    return calls


def reload(integration):
    return Integration.objects.get(pk=integration.pk)


@pytest.mark.django_db
def test_a_success_costs_at_most_one_cheap_query_after_the_insert(integration, enqueued):
    scim_request(integration, 200)
    fresh = reload(integration)
    Integration.objects.filter(pk=fresh.pk).update(last_request_at=timezone.now() - timedelta(minutes=1))
    fresh = reload(integration)
    from provisioning.request_log import request_log_record

    with CaptureQueriesContext(connection) as queries:
        request_log_record(integration=fresh, received_at=timezone.now(), method="GET", path="/scim/v2/Users",
                           status=200, duration_ms=3)
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["INSERT", "UPDATE"]
    # Within the precision window the success path is the INSERT alone.
    fresh = reload(integration)
    with CaptureQueriesContext(connection) as queries:
        request_log_record(integration=fresh, received_at=timezone.now(), method="GET", path="/scim/v2/Users",
                           status=200, duration_ms=3)
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]
    assert enqueued == []


@pytest.mark.django_db
def test_a_burst_of_failures_claims_one_summary(integration, enqueued):
    for _ in range(200):
        conflict(integration)
    assert [name for name, _ in enqueued] == ["failure_summary_send"]
    fresh = reload(integration)
    assert fresh.failing_since is not None and fresh.failure_summary_at is not None
    assert fresh.recovered_at is None


@pytest.mark.django_db
def test_mid_burst_failures_skip_the_update(integration, enqueued):
    conflict(integration)
    conflict(integration)
    fresh = reload(integration)
    with CaptureQueriesContext(connection) as queries:
        from provisioning.request_log import request_log_record

        request_log_record(integration=fresh, received_at=timezone.now(), method="POST", path="/scim/v2/Users",
                           status=409, duration_ms=3, scim_type="uniqueness")
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]


@pytest.mark.django_db
def test_summary_counts_by_reason_and_covers_each_failure_once(integration, enqueued, clock):
    for _ in range(7):
        conflict(integration)
    for _ in range(3):
        scim_request(integration, 400, scim_type="invalidValue", detail="emails: must be a list of objects")
    clock.advance(seconds=60)
    later = timezone.now()
    notification = alerts.failure_summary_send(integration_id=integration.pk, now=later)
    assert notification is not None
    assert notification.to == ["ops@acme.example"]
    assert notification.subject == "Azure provisioning: 10 failed requests for Acme Corp"
    assert "userName already exists (409): 7" in notification.body_text
    assert "Invalid value (400): 3" in notification.body_text
    assert "/settings/integrations/azure/logs/?status=failed" in notification.body_text
    assert "emails: must be a list of objects" in notification.body_text
    # The same task again (a retry, a duplicate) finds nothing pending.
    assert alerts.failure_summary_send(integration_id=integration.pk, now=later) is None
    assert Notification.objects.filter(kind="scim_failure_summary").count() == 1


@pytest.mark.django_db
def test_quiet_period_then_a_new_summary_if_failures_continue(integration, enqueued, settings, clock):
    conflict(integration)
    clock.advance(seconds=60)
    alerts.failure_summary_send(integration_id=integration.pk)
    for _ in range(5):
        clock.advance(minutes=5)
        conflict(integration)  # within the quiet period: nothing claimed
    assert len(enqueued) == 1
    # The quiet period ends; the next failure claims the next summary.
    clock.advance(minutes=settings.SCIM_FAILURE_QUIET_MINUTES)
    conflict(integration)
    assert [name for name, _ in enqueued] == ["failure_summary_send", "failure_summary_send"]
    clock.advance(seconds=60)
    second = alerts.failure_summary_send(integration_id=integration.pk)
    # It reports what the first did not: the 5 quiet-period failures and the new one.
    assert second.subject == "Azure provisioning: 6 failed requests for Acme Corp"
    assert Notification.objects.filter(kind="scim_failure_summary").count() == 2


@pytest.mark.django_db
def test_no_summary_without_notification_settings(tenant, admin, enqueued):
    integration = active_integration(tenant, notify=False)
    for _ in range(5):
        conflict(integration)
    assert enqueued == []
    assert reload(integration).failing_since is not None
    assert alerts.alerts_sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert not Notification.objects.filter(kind="scim_failure_summary").exists()


@pytest.mark.django_db
def test_recovery_is_announced_once_after_a_summary(integration, enqueued, clock):
    conflict(integration)
    clock.advance(seconds=60)
    alerts.failure_summary_send(integration_id=integration.pk)
    clock.advance(seconds=10)
    scim_request(integration, 201)
    scim_request(integration, 200)
    assert [name for name, _ in enqueued] == ["failure_summary_send", "recovery_notice_send"]
    recovered_at = reload(integration).recovered_at
    notification = alerts.recovery_notice_send(integration_id=integration.pk, recovered_at=recovered_at)
    assert notification.subject == "Azure provisioning recovered for Acme Corp"
    assert "1 failed request" in notification.body_text
    assert alerts.recovery_notice_send(integration_id=integration.pk, recovered_at=recovered_at) is None
    fresh = reload(integration)
    assert fresh.failing_since is None and fresh.recovered_at is None


@pytest.mark.django_db
def test_a_failure_before_the_recovery_is_confirmed_cancels_it(integration, enqueued, clock):
    conflict(integration)
    clock.advance(seconds=60)
    alerts.failure_summary_send(integration_id=integration.pk)
    clock.advance(seconds=10)
    scim_request(integration, 200)
    recovered_at = reload(integration).recovered_at
    clock.advance(seconds=10)
    conflict(integration)  # still failing after all
    assert alerts.recovery_notice_send(integration_id=integration.pk, recovered_at=recovered_at) is None
    assert reload(integration).failing_since is not None
    assert not Notification.objects.filter(kind="scim_recovered").exists()


@pytest.mark.django_db
def test_recovery_before_the_summary_sends_the_summary_first(integration, enqueued, clock):
    conflict(integration)
    clock.advance(seconds=10)
    scim_request(integration, 200)
    clock.advance(minutes=10)
    recovered_at = reload(integration).recovered_at
    alerts.recovery_notice_send(integration_id=integration.pk, recovered_at=recovered_at)
    kinds = list(Notification.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["scim_failure_summary", "scim_recovered"]


@pytest.mark.django_db
def test_the_sweep_sends_what_a_lost_enqueue_would_have(integration, monkeypatch, settings, clock):
    """Broker down: the enqueue fails silently, the request succeeds, the beat sweep catches up."""
    from provisioning import tasks

    def broker_down(*args, **kwargs):
        assert kwargs["retry"] is False  # a SCIM response never waits for a dead broker
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.failure_summary_send, "apply_async", broker_down)
    monkeypatch.setattr(tasks.recovery_notice_send, "apply_async", broker_down)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        conflict(integration)
    assert Notification.objects.count() == 0
    assert alerts.alerts_sweep() == 0  # not due yet
    clock.advance(seconds=settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS + 1)
    assert alerts.alerts_sweep() == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        scim_request(integration, 200)
    assert alerts.alerts_sweep() == 0  # a recovery is confirmed only after a calm period
    clock.advance(minutes=settings.SCIM_RECOVERY_MINUTES, seconds=1)
    assert alerts.alerts_sweep() == 1
    assert list(Notification.objects.order_by("id").values_list("kind", flat=True)) == [
        "scim_failure_summary", "scim_recovered"]
    assert alerts.alerts_sweep() == 0


@pytest.mark.django_db
def test_alerting_errors_never_reach_the_request(integration, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("template missing")

    monkeypatch.setattr(alerts, "request_recorded", broken)
    entry = conflict(integration)
    assert ScimRequest.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_a_deactivated_integration_is_not_summarised(integration, enqueued):
    from provisioning import services
    from tests.scim_traffic import ENTRA

    services.integration_deactivate(integration=integration, actor=ENTRA)
    for _ in range(3):
        scim_request(integration, 401)
    assert enqueued == []


# --- One instance across requests, as each process's token cache keeps it ------------------
# Writing the alerting state does not make the token cache verify the token again
# (provisioning migration 0006): the instance a request sees is the one earlier
# requests of its process wrote through, or one read before another process moved the row.


def logged(instance: Integration, status: int) -> list[str]:
    """Log one request with ``instance`` as it is (not read again); the statements it ran."""
    from provisioning.request_log import request_log_record

    with CaptureQueriesContext(connection) as queries:
        request_log_record(integration=instance, received_at=timezone.now(), method="POST", path="/scim/v2/Users",
                           status=status, duration_ms=3, scim_type="uniqueness" if status == 409 else "")
    return [q["sql"].split()[0] for q in queries.captured_queries]


@pytest.mark.django_db
def test_the_kept_instance_follows_its_own_writes(integration, enqueued, clock):
    kept = reload(integration)
    logged(kept, 409)
    assert kept.failing_since is not None and kept.failure_summary_at is not None
    assert logged(kept, 409) == ["INSERT"]  # mid-burst, known from the instance alone
    clock.advance(seconds=1)
    logged(kept, 200)
    assert [name for name, _ in enqueued] == ["failure_summary_send", "recovery_notice_send"]
    assert kept.recovered_at == reload(integration).recovered_at == clock.now
    assert logged(kept, 200) == ["INSERT"]


@pytest.mark.django_db
def test_failures_another_process_recorded_are_recovered_by_a_stale_instance(integration, enqueued, clock):
    kept, elsewhere = reload(integration), reload(integration)
    logged(kept, 200)
    clock.advance(seconds=1)
    logged(elsewhere, 409)
    clock.advance(seconds=1)
    assert logged(kept, 200) == ["INSERT"]  # within the precision window: no query, the claim waits
    clock.advance(seconds=alerts.LAST_REQUEST_PRECISION.total_seconds())
    # The write of last_request_at finds the row failing, reads it again and claims the recovery.
    assert logged(kept, 200) == ["INSERT", "UPDATE", "SELECT", "UPDATE"]
    assert [name for name, _ in enqueued] == ["failure_summary_send", "recovery_notice_send"]
    assert reload(integration).recovered_at == clock.now == kept.recovered_at


@pytest.mark.django_db
def test_a_recovery_claimed_elsewhere_is_not_claimed_again(integration, enqueued, clock):
    kept, elsewhere = reload(integration), reload(integration)
    logged(kept, 409)
    elsewhere.refresh_from_db()
    clock.advance(seconds=1)
    logged(elsewhere, 200)
    clock.advance(seconds=1)
    assert logged(kept, 200) == ["INSERT", "UPDATE", "SELECT"]  # the claim finds it taken, reads the row again
    assert logged(kept, 200) == ["INSERT"]
    assert [name for name, _ in enqueued] == ["failure_summary_send", "recovery_notice_send"]


@pytest.mark.django_db
def test_a_summary_claimed_elsewhere_is_not_claimed_again(integration, enqueued, clock):
    kept, elsewhere = reload(integration), reload(integration)
    logged(elsewhere, 409)
    clock.advance(seconds=1)
    assert logged(kept, 409) == ["INSERT", "UPDATE", "SELECT"]  # the claim finds it taken; mid-burst after all
    assert logged(kept, 409) == ["INSERT"]
    assert [name for name, _ in enqueued] == ["failure_summary_send"]
