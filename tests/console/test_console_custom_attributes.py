"""Custom attributes in the console (issue 16): declared on the integration page, received ones listed with
a Declare button, shown on the person page, filterable in the People list, and walled per tenant."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from directory import services
from directory.audit import Actor
from directory.models import AuditEvent, CustomAttribute, ReceivedCustomAttribute
from tests.entra import requests as entra
from tests.scim_client import ScimClient, issue_token

SPACEIQ = "urn:ietf:params:scim:schemas:extension:SpaceIQ:2.0:User"
ACME = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User"
SYSTEM = Actor.system("test")

pytestmark = pytest.mark.django_db


@pytest.fixture
def scim(client, tenant) -> ScimClient:
    from django.test import Client

    return ScimClient(Client(), issue_token(tenant))  # activates the tenant's Azure integration


def detail(admin_client) -> str:
    return admin_client.get(reverse("provisioning:integration-detail", args=["azure"])).content.decode()


def post(admin_client, **data):
    return admin_client.post(reverse("provisioning:integration-custom-attributes", args=["azure"]), data)


def section(html: str) -> str:
    return re.search(r'<section class="card" id="custom-attributes".*?</section>', html, re.S).group(0)


def test_an_admin_adds_an_attribute_and_sees_its_scim_name_to_paste_into_entra(admin_client, scim, tenant):
    html = section(detail(admin_client))
    assert "<h2 id=\"custom-attributes-title\">Custom attributes</h2>" in html
    assert "No custom attributes declared yet." in html and "Add attribute" in html
    response = post(admin_client, action="add", name="badgeNumber", type="integer", shown_in_directory="on")
    assert response.status_code == 302 and response["Location"].endswith("#custom-attributes")
    attribute = CustomAttribute.objects.get(tenant=tenant)
    assert (attribute.schema, attribute.name, attribute.type, attribute.shown_in_directory) == (
        SPACEIQ, "badgeNumber", "integer", True)
    html = section(detail(admin_client))
    assert "<code>badgeNumber</code>" in html and ">Integer<" in html
    assert f'value="{SPACEIQ}:badgeNumber"' in html and 'data-copy="custom-scim-name-badgeNumber"' in html
    assert "Edit attribute list for SpaceIQ" in html
    event = AuditEvent.objects.get(action="custom_attribute.declared")
    assert event.target_label == f"{SPACEIQ}:badgeNumber" and event.tenant_id == tenant.pk


@pytest.mark.parametrize(("data", "said"), [
    ({"name": "badge number", "type": "string"}, "is not an attribute name"),
    ({"name": "9lives", "type": "string"}, "is not an attribute name"),
    ({"name": "", "type": "string"}, "Attribute name: This field is required."),
    ({"name": "x", "type": "float"}, "Type: Select a valid choice."),
])
def test_a_bad_name_or_type_is_refused_with_a_clear_error(admin_client, scim, data, said):
    response = post(admin_client, action="add", **data)
    assert response.status_code == 400
    assert said in section(response.content.decode())
    assert not CustomAttribute.objects.exists()


def test_names_are_unique_ignoring_case_and_limited_in_number(admin_client, scim, tenant, monkeypatch):
    post(admin_client, action="add", name="building", type="string")
    response = post(admin_client, action="add", name="Building", type="string")
    assert response.status_code == 400
    assert "There is already a custom attribute named Building." in response.content.decode()
    from directory.services import custom_attributes

    monkeypatch.setattr(custom_attributes, "MAX_DECLARED_PER_TENANT", 1)
    response = post(admin_client, action="add", name="floor", type="integer")
    assert response.status_code == 400
    assert "A company can declare at most 1 custom attributes" in response.content.decode()


def test_received_attributes_are_listed_and_declared_in_one_click(admin_client, scim, tenant):
    response = scim.post("/Users", {**entra.CREATE_USER, f"{ACME}:floor": 3})
    assert response.status_code == 201
    html = section(detail(admin_client))
    received = ReceivedCustomAttribute.objects.get(tenant=tenant)
    assert "Received but not declared" in html and f"<code><bdi>{ACME}:floor</bdi></code>" in html
    assert 'aria-label="Declare floor"' in html and "<time datetime=" in html
    response = post(admin_client, action="declare", received=received.pk)
    assert response.status_code == 302
    attribute = CustomAttribute.objects.get(tenant=tenant)
    assert (attribute.schema, attribute.name, attribute.type) == (ACME, "floor", "integer")  # proposed from 3
    assert not ReceivedCustomAttribute.objects.exists()
    assert "Nothing received that is not declared." in section(detail(admin_client))


def test_show_and_remove_keep_the_values(admin_client, scim, tenant):
    attribute = services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="building")
    user = scim.post("/Users", {**entra.CREATE_USER, f"{SPACEIQ}:building": "B7"}).json()
    assert post(admin_client, action="show", attribute=attribute.pk, shown_in_directory="on").status_code == 302
    attribute.refresh_from_db()
    assert attribute.shown_in_directory
    assert post(admin_client, action="remove", attribute=attribute.pk).status_code == 302
    assert not CustomAttribute.objects.exists()
    # The values stay, and the attribute is listed as received again.
    assert scim.get(f"/Users/{user['id']}").json()[SPACEIQ] == {"building": "B7"}
    assert ReceivedCustomAttribute.objects.filter(tenant=tenant, name="building").exists()


def test_the_person_page_shows_the_attributes_marked_shown_in_directory(admin_client, scim, tenant):
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="badgeNumber", type="integer",
                                      shown_in_directory=True)
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="secretCode")
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="deskBooking", type="boolean",
                                      shown_in_directory=True)
    user = scim.post("/Users", {**entra.CREATE_USER, f"{SPACEIQ}:badgeNumber": 4711,
                                f"{SPACEIQ}:secretCode": "hidden-value", f"{SPACEIQ}:deskBooking": "True"}).json()
    html = admin_client.get(reverse("directory:person-detail", args=[user["id"]])).content.decode()
    block = re.search(r'aria-labelledby="custom-attributes-title">.*?</section>', html, re.S).group(0)
    assert "<dt><bdi>badgeNumber</bdi></dt><dd><bdi>4711</bdi></dd>" in block
    assert "<dt><bdi>deskBooking</bdi></dt><dd>Yes</dd>" in block
    assert "secretCode" not in block
    # The history names each custom attribute, like any other attribute.
    scim.patch(f"/Users/{user['id']}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Replace", "path": f"{SPACEIQ}:badgeNumber", "value": 4712}]})
    html = admin_client.get(reverse("directory:person-detail", args=[user["id"]])).content.decode()
    html = html.replace("<bdi>", "").replace("</bdi>", "")  # values are isolated for bidi text (issue 17)
    assert f"<code>{SPACEIQ}:badgeNumber</code>: 4711 → 4712" in html


def test_the_people_list_filters_on_a_custom_attribute(admin_client, scim, tenant):
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="building")
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="badgeNumber", type="integer")
    scim.post("/Users", {**entra.CREATE_USER, f"{SPACEIQ}:building": "North", f"{SPACEIQ}:badgeNumber": 1})
    scim.post("/Users", {**entra.CREATE_USER, "userName": "bob@contoso.com", "externalId": "bob",
                         f"{SPACEIQ}:building": "South", f"{SPACEIQ}:badgeNumber": 2})
    url = reverse("directory:people")

    def names(**params) -> list[str]:
        html = admin_client.get(url, params).content.decode()
        return re.findall(r'<td data-label="User name">(?:<bdi>)?([^<]+)(?:</bdi>)?</td>', html)

    assert 'label for="id_attribute">Custom attribute<' in admin_client.get(url).content.decode()
    assert names(attribute=f"{SPACEIQ}:building", value="north") == ["alice@contoso.com"]
    assert names(attribute=f"{SPACEIQ}:badgeNumber", value="2") == ["bob@contoso.com"]
    assert names(attribute=f"{SPACEIQ}:badgeNumber", value="two") == []
    assert len(names(attribute=f"{SPACEIQ}:nope", value="x")) == 3  # unknown attribute: not a filter


def test_another_tenant_sees_and_changes_nothing_of_a_tenants_attributes(client, scim, tenant, other_tenant,
                                                                        outsider):
    attribute = services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="acmeOnlyAttr")
    scim.post("/Users", {**entra.CREATE_USER, f"{ACME}:acmeReceived": "x"})
    issue_token(other_tenant)
    services.person_update(person=outsider, actor=SYSTEM, changes={"is_active": True})
    from directory.models import Role

    services.console_role_set(person=outsider, role=Role.ADMIN, actor=SYSTEM)
    client.force_login(outsider)
    html = client.get(reverse("provisioning:integration-detail", args=["azure"])).content.decode()
    assert "acmeOnlyAttr" not in html and "acmeReceived" not in html
    client.post(reverse("provisioning:integration-custom-attributes", args=["azure"]),
                {"action": "remove", "attribute": attribute.pk})
    client.post(reverse("provisioning:integration-custom-attributes", args=["azure"]),
                {"action": "declare", "received": ReceivedCustomAttribute.objects.get().pk})
    assert CustomAttribute.objects.filter(tenant=tenant).count() == 1
    assert ReceivedCustomAttribute.objects.filter(tenant=tenant).count() == 1
    assert not CustomAttribute.objects.filter(tenant=other_tenant).exists()


def test_an_auditor_reads_the_section_without_a_form(auditor_client, scim, tenant):
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="building", shown_in_directory=True)
    html = section(auditor_client.get(reverse("provisioning:integration-detail", args=["azure"])).content.decode())
    assert "<code><bdi>building</bdi></code>" in html and "<form" not in html and ">Yes<" in html
    response = auditor_client.post(reverse("provisioning:integration-custom-attributes", args=["azure"]),
                                   {"action": "add", "name": "x", "type": "string"})
    assert response.status_code == 403


def test_the_provisioning_log_says_which_undeclared_attributes_were_kept(admin_client, scim, tenant):
    from provisioning.models import ScimRequest
    from provisioning.request_log_writer import writer

    scim.post("/Users", {**entra.CREATE_USER, f"{ACME}:floor": 3})
    writer.flush()
    logged = ScimRequest.objects.get(method="POST")
    note = f"kept 1 undeclared attribute: {ACME}:floor"
    listing = admin_client.get(reverse("provisioning:integration-logs", args=["azure"])).content.decode()
    assert f"Succeeded: <bdi>{note}</bdi>" in listing
    page = admin_client.get(reverse("provisioning:integration-log-detail", args=["azure", logged.pk])).content.decode()
    assert f'<p id="request-note"><strong>Note from SpaceIQ:</strong> <bdi>{note}</bdi></p>' in page


def test_colleagues_see_the_attributes_shown_in_directory(client, scim, tenant, member):
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="building", shown_in_directory=True)
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="secretCode")
    user = scim.post("/Users", {**entra.CREATE_USER, f"{SPACEIQ}:building": "HQ-7",
                                f"{SPACEIQ}:secretCode": "hidden-value"}).json()
    client.force_login(member)
    html = client.get(reverse("directory:directory-person", args=[user["id"]])).content.decode()
    assert "<dt><bdi>building</bdi></dt><dd><bdi>HQ-7</bdi></dd>" in html and "hidden-value" not in html
    html = client.get(reverse("directory:my-profile")).content.decode()
    assert "<dt><bdi>building</bdi></dt><dd>—</dd>" in html
