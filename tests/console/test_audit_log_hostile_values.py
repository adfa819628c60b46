"""The audit log with values that carry direction overrides and run long (issue 17).

On the page each name and value sits in ``<bdi>`` and a value cut short keeps
the whole of it in its title (tests/browser/test_browser_hostile_values.py
checks what the browser makes of it). In the CSV a cell cannot be isolated:
the actor and target cells hold the values exactly as stored, and the details
cell, our JSON, writes a direction mark inside a value as its JSON escape, so
it cannot turn the keys and quotes after it; decoded, it is the stored details.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from django.urls import reverse

from directory import services
from directory.audit import Actor
from directory.models import AuditEvent
from tests.conftest import make_person

pytestmark = pytest.mark.django_db

RLO = "\u202e"
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
EVIL = Actor(label=f"{RLO}Mallory (token siq_scim_abcd1234…)", source_ip="20.190.128.1")


@pytest.fixture
def renamed(tenant):
    person = make_person(tenant, f"{RLO}mallory@contoso.com", display_name=f"{RLO}Mallory")
    services.person_update(person=person, actor=EVIL, changes={"display_name": f"{RLO}Renamed" + "x" * 200,
                                                                "title": "\u2067ltr\u2069 isolate"})
    return person


def test_the_page_isolates_every_value_and_keeps_long_ones_whole_in_a_title(admin_client, renamed):
    page = admin_client.get(reverse("provisioning:audit-log"), {"action": "person.updated"}).content.decode()
    long_value = f"{RLO}Renamed" + "x" * 200
    assert f"<bdi>display_name</bdi>: <bdi>{RLO}Mallory</bdi> → <bdi title=\"{long_value}\">" in page
    assert f"{long_value[:79]}…</bdi>" in page
    assert f'<td data-label="Actor"><bdi>{html.escape(EVIL.label)}</bdi></td>' in page
    assert f"<bdi>{RLO}mallory@contoso.com</bdi></a> <small class=\"help\">person</small>" in page


def test_the_csv_keeps_values_intact_and_our_cells_apart(admin_client, renamed):
    export = b"".join(admin_client.get(reverse("provisioning:audit-log-export")).streaming_content).decode()
    (line,) = [row for row in csv.DictReader(io.StringIO(export)) if row["action"] == "person.updated"]
    event = AuditEvent.objects.get(action="person.updated", target_id=str(renamed.pk))
    # Values in cells of their own: exactly as stored (a spreadsheet shows each cell on its own).
    assert line["actor"] == EVIL.label
    assert line["target"] == f"{RLO}mallory@contoso.com"
    # Our cells: our words, untouched.
    assert (line["action"], line["action_label"], line["target_type"]) == ("person.updated", "Person updated", "person")
    # Our JSON: no direction control left in it to turn what follows, yet every value decodes as stored.
    assert not BIDI_CONTROLS.search(line["details"]), line["details"]
    assert "\\u202e" in line["details"] and "\\u2067" in line["details"]
    assert json.loads(line["details"]) == event.details
    assert event.details["changes"]["display_name"]["new"] == f"{RLO}Renamed" + "x" * 200
