"""The Provisioning logs page, one request explained, the traffic chart, and who may see them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning.models import ScimRequest
from provisioning.traffic_chart import traffic_chart
from tests.scim_traffic import active_integration, conflict, scim_request

LOGS_URL = reverse("provisioning:integration-logs", args=["azure"])


@pytest.fixture
def integration(tenant, admin):
    return active_integration(tenant)


@pytest.fixture
def traffic(integration):
    ok = scim_request(integration, 201)
    failed = conflict(integration)
    bad = scim_request(integration, 400, scim_type="invalidValue", detail="title: must be at most 255 characters",
                       method="PATCH", path="/scim/v2/Users/7d3c")
    return {"ok": ok, "conflict": failed, "invalid": bad}


def detail_url(entry: ScimRequest) -> str:
    return reverse("provisioning:integration-log-detail", args=["azure", entry.pk])


@pytest.mark.django_db
def test_the_log_lists_requests_newest_first_with_a_plain_result(admin_client, traffic):
    page = admin_client.get(LOGS_URL).content.decode()
    assert page.index("PATCH <bdi>/scim/v2/Users/7d3c") < page.index("POST <bdi>/scim/v2/Users")
    assert "userName already exists (409)" in page and "Succeeded" in page
    assert detail_url(traffic["ok"]) in page


@pytest.mark.django_db
def test_failed_filter(admin_client, traffic):
    page = admin_client.get(LOGS_URL, {"status": "failed"}).content.decode()
    table = page[page.index("<tbody>"):]
    assert detail_url(traffic["conflict"]) in table and detail_url(traffic["ok"]) not in table
    assert "2 requests" in page


@pytest.mark.django_db
def test_pagination(admin_client, integration):
    now = timezone.now()
    ScimRequest.objects.bulk_create([
        ScimRequest(integration=integration, tenant=integration.tenant, received_at=now - timedelta(seconds=i),
                    method="GET", path=f"/scim/v2/Users?i={i}", status=200)
        for i in range(120)
    ])
    page = admin_client.get(LOGS_URL, {"status": "all", "page": 2}).content.decode()
    assert "Page 2 of 3" in page and "status=all&amp;page=3" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("which", "reason", "advice"),
    [
        ("conflict", "userName already exists (409)", "A person with that userName already exists in SpaceIQ"),
        ("invalid", "Invalid value (400)", "attribute mappings"),
    ],
)
def test_detail_explains_the_error_and_what_to_do(admin_client, traffic, which, reason, advice):
    page = admin_client.get(detail_url(traffic[which])).content.decode()
    assert f"What went wrong: {reason}" in page
    assert advice in page
    assert "What you can do" in page
    if which == "conflict":
        assert f'href="{reverse("directory:people")}?q=bob%40acme.example"' in page


@pytest.mark.django_db
def test_a_revoked_token_still_in_use_is_filed_under_its_integration_and_explained(admin_client, integration):
    from provisioning import services
    from tests.scim_traffic import ENTRA

    token, _ = services.token_issue(integration=integration, actor=ENTRA, label="Entra")
    services.token_revoke(token=token, actor=ENTRA)
    entry = scim_request(None, 401, token_prefix=token.prefix, detail="The bearer token is not valid")
    assert entry.integration_id == integration.pk and entry.tenant_id == integration.tenant_id
    page = admin_client.get(detail_url(entry)).content.decode()
    assert "Invalid, revoked or expired token (401)" in page
    assert f"The token sent was <code>{token.display}</code> (<bdi>Entra</bdi>): revoked on" in page
    assert "rotate a token" in page and "Test Connection" in page


@pytest.mark.django_db
def test_detail_shows_the_scrubbed_body(admin_client, integration):
    entry = scim_request(integration, 201, body=b'{"userName": "eve@acme.example", "password": "hunter2"}')
    page = admin_client.get(detail_url(entry)).content.decode()
    assert "eve@acme.example" in page and "hunter2" not in page and "[removed]" in page


# --- The chart ---------------------------------------------------------------------


@pytest.mark.django_db
def test_chart_counts_requests_per_hour_split_by_result(integration):
    now = timezone.now().replace(minute=30)
    for hours_ago, status in [(0, 200), (0, 409), (0, 409), (2, 201), (30, 500)]:
        (conflict if status == 409 else scim_request)(
            integration, **({} if status == 409 else {"status": status}), received_at=now - timedelta(hours=hours_ago)
        )
    chart = traffic_chart(integration=integration, now=now)
    assert (chart.succeeded, chart.failed) == (2, 2)  # the 500 is older than 24 hours
    latest = chart.bars[-1]
    assert (latest.succeeded, latest.failed) == (1, 2)
    assert latest.reasons == [("userName already exists (409)", 2)]
    assert "1 succeeded, 2 failed" in latest.title and "userName already exists (409): 2" in latest.title
    month = traffic_chart(integration=integration, range_key="30d", now=now)
    assert (month.succeeded, month.failed) == (2, 3) and month.hours == 720


@pytest.mark.django_db
def test_chart_is_server_rendered_svg_with_hover_titles(admin_client, traffic):
    page = admin_client.get(LOGS_URL).content.decode()
    assert '<svg class="traffic-chart"' in page
    assert "<title>" in page and "2 failed" in page
    assert "Failure reasons" in page and "userName already exists (409): <strong>1</strong>" in page
    month = admin_client.get(LOGS_URL, {"range": "30d"}).content.decode()
    assert 'aria-current="page">Last 30 days' in month


# --- Tenant walls -------------------------------------------------------------------


@pytest.mark.django_db
def test_non_admins_get_403(client, member, traffic):
    client.force_login(member)
    assert client.get(LOGS_URL).status_code == 403
    assert client.get(detail_url(traffic["ok"])).status_code == 403


@pytest.mark.django_db
def test_the_outsider_gets_404_for_the_admins_integration_and_requests(client, traffic, outsider):
    client.force_login(outsider)
    assert client.get(LOGS_URL).status_code == 404  # Globex has no Azure integration
    active_integration(outsider.tenant, email="ops@globex.example")
    page = client.get(LOGS_URL).content.decode()
    assert "No requests yet." in page and "/scim/v2/Users/7d3c" not in page
    for entry in traffic.values():
        assert client.get(detail_url(entry)).status_code == 404


@pytest.mark.django_db
def test_unknown_kinds_and_ids_are_404(admin_client, integration):
    assert admin_client.get(reverse("provisioning:integration-logs", args=["nope"])).status_code == 404
    assert admin_client.get(reverse("provisioning:integration-log-detail", args=["azure", 999999])).status_code == 404
    assert admin_client.get(reverse("provisioning:integration-logs", args=["okta"])).status_code == 404


@pytest.mark.django_db
def test_the_integration_page_shows_the_chart_and_links_to_the_logs(admin_client, traffic):
    page = admin_client.get(reverse("provisioning:integration-detail", args=["azure"])).content.decode()
    assert '<svg class="traffic-chart"' in page
    assert f'href="{LOGS_URL}?status=failed"' in page
