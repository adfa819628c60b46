"""/api/v1/people returns each person's custom attributes (issue 16), as stored, under their full SCIM names."""

from __future__ import annotations

from directory import services
from directory.audit import Actor
from tests.entra import requests as entra
from tests.scim_client import ScimClient, issue_token

BADGE = f"{entra.CUSTOM}:badgeNumber"
FLOOR = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User:floor"  # undeclared: kept as sent


def test_people_carry_their_custom_attributes(api, tenant):
    from django.test import Client

    services.custom_attribute_declare(tenant=tenant, actor=Actor.system("test"), name="badgeNumber", type="integer")
    scim = ScimClient(Client(), issue_token(tenant))
    user = scim.post("/Users", {**entra.CREATE_USER, BADGE: 4711, FLOOR: "3"}).json()
    expected = {BADGE: 4711, FLOOR: "3"}
    assert api.get(f"/people/{user['id']}/").json()["custom_attributes"] == expected
    listed = {row["id"]: row for row in api.get("/people/").json()["results"]}
    assert listed[user["id"]]["custom_attributes"] == expected
    assert all(row["custom_attributes"] == {} for pk, row in listed.items() if pk != user["id"])
