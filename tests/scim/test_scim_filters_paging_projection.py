"""Filtering (full RFC grammar, in the database), pagination, attributes/excludedAttributes, PUT, discovery."""

import pytest

from tests.entra import requests as entra

USERS = [
    # userName, given, family, title, department, active, work email, home email
    ("ada@acme.example", "Ada", "Lovelace", "Analyst", "Research", True, "ada@acme.example", "ada@home.example"),
    ("alan@acme.example", "Alan", "Turing", "Scientist", "Research", True, "Alan@Acme.example", None),
    ("grace@acme.example", "Grace", "Hopper", "Admiral", "Engineering", False, "grace@acme.example", None),
    ("linus@acme.example", "Linus", "Pauling", None, "Chemistry", True, None, "linus@home.example"),
]


@pytest.fixture
def people(scim):
    ids = {}
    for user_name, given, family, title, department, active, work, home in USERS:
        emails = [e for e in ({"type": "work", "value": work, "primary": True} if work else None,
                              {"type": "home", "value": home} if home else None) if e]
        body = {"schemas": [entra.ENTERPRISE], "userName": user_name, "active": active,
                "name": {"givenName": given, "familyName": family}, "emails": emails,
                entra.ENTERPRISE: {"department": department}}
        if title:
            body["title"] = title
        response = scim.post("/Users", body)
        assert response.status_code == 201, response.content
        ids[user_name.split("@")[0]] = response.json()["id"]
    return ids


def names(scim, **params) -> list[str]:
    response = scim.get("/Users", **params)
    assert response.status_code == 200, response.content
    return sorted(r["userName"].split("@")[0] for r in response.json()["Resources"])


@pytest.mark.django_db
@pytest.mark.parametrize("filter_text, expected", [
    ('userName eq "ADA@acme.example"', ["ada"]),
    ('userName ne "ada@acme.example"', ["alan", "grace", "linus"]),
    ('userName co "LA"', ["alan"]),
    ('userName sw "a"', ["ada", "alan"]),
    ('userName ew "@ACME.example"', ["ada", "alan", "grace", "linus"]),
    ("title pr", ["ada", "alan", "grace"]),
    ("not (title pr)", ["linus"]),
    ('title gt "B"', ["alan"]),  # Scientist > B; Analyst < B; Admiral < B
    ('name.familyName ge "P"', ["linus", "alan"]),
    ('name.givenName lt "Alan"', ["ada"]),
    ('name.givenName le "Alan"', ["ada", "alan"]),
    ("active eq false", ["grace"]),
    ('active eq "True"', ["ada", "alan", "linus"]),
    ('emails[type eq "work"].value eq "alan@acme.EXAMPLE"', ["alan"]),
    ('emails.value co "@home."', ["ada", "linus"]),
    ('emails[type eq "home" and value sw "lin"]', ["linus"]),
    ('emails[type eq "work" and primary eq true]', ["ada", "alan", "grace"]),
    ('emails.type eq "home"', ["ada", "linus"]),
    (f'{entra.ENTERPRISE}:department eq "research"', ["ada", "alan"]),
    ('userName eq "ada@acme.example" or userName eq "grace@acme.example"', ["ada", "grace"]),
    ('(userName sw "a" or userName sw "g") and active eq true', ["ada", "alan"]),
    ('userName sw "a" and not (name.givenName eq "Ada")', ["alan"]),
    ('meta.resourceType eq "User"', ["ada", "alan", "grace", "linus"]),
    ('meta.created gt "2000-01-01T00:00:00Z"', ["ada", "alan", "grace", "linus"]),
    ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "linus@acme.example"', ["linus"]),
])
def test_filter_grammar(scim, people, filter_text, expected):
    assert names(scim, filter=filter_text) == sorted(expected)


@pytest.mark.django_db
def test_filter_on_id_and_groups(scim, people):
    gid = scim.post("/Groups", entra.CREATE_GROUP).json()["id"]
    scim.patch(f"/Groups/{gid}", entra.add_members(people["ada"], people["grace"]))
    assert names(scim, filter=f'id eq "{people["alan"]}"') == ["alan"]
    assert names(scim, filter='id eq "not-a-uuid"') == []
    assert names(scim, filter=f'groups.value eq "{gid}"') == ["ada", "grace"]
    assert names(scim, filter='groups.display eq "engineering"') == ["ada", "grace"]
    groups = scim.get("/Groups", filter=f'members.value eq "{people["ada"]}"').json()
    assert [g["id"] for g in groups["Resources"]] == [gid]
    assert scim.get("/Groups", filter='displayName sw "ENG"').json()["totalResults"] == 1
    assert scim.get("/Groups", filter=f'members[value eq "{people["alan"]}"]').json()["totalResults"] == 0


@pytest.mark.django_db
def test_search_endpoint(scim, people):
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "a"', "attributes": ["userName"], "startIndex": 1, "count": 1}
    response = scim.post("/Users/.search", body)
    assert response.status_code == 200
    doc = response.json()
    assert doc["totalResults"] == 2 and doc["itemsPerPage"] == 1
    assert set(doc["Resources"][0]) == {"schemas", "id", "userName"}


@pytest.mark.django_db
def test_pagination(scim, people):
    page1 = scim.get("/Users", startIndex=1, count=3).json()
    page2 = scim.get("/Users", startIndex=4, count=3).json()
    assert page1["totalResults"] == page2["totalResults"] == 4
    assert page1["itemsPerPage"] == 3 and page2["itemsPerPage"] == 1 and page2["startIndex"] == 4
    ids = [r["id"] for r in page1["Resources"] + page2["Resources"]]
    assert sorted(ids) == sorted(people.values())
    only_total = scim.get("/Users", count=0).json()
    assert only_total["totalResults"] == 4 and only_total["Resources"] == []
    assert scim.get("/Users", startIndex=0).json()["startIndex"] == 1
    assert scim.get("/Users", count=10_000).json()["itemsPerPage"] == 4  # capped at maxResults


@pytest.mark.django_db
def test_attributes_and_excluded_attributes(scim, people):
    doc = scim.get(f"/Users/{people['ada']}", attributes="userName,name.givenName,emails.value").json()
    assert doc == {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", entra.ENTERPRISE], "id": people["ada"],
                   "userName": "ada@acme.example", "name": {"givenName": "Ada"},
                   "emails": [{"value": "ada@acme.example"}, {"value": "ada@home.example"}]}
    doc = scim.get(f"/Users/{people['ada']}", attributes=f"{entra.ENTERPRISE}:department").json()
    assert doc[entra.ENTERPRISE] == {"department": "Research"} and "userName" not in doc
    doc = scim.get(f"/Users/{people['ada']}", excludedAttributes="emails,groups,name.familyName,id").json()
    assert "emails" not in doc and "groups" not in doc and doc["name"] == {"givenName": "Ada"}
    assert doc["id"] == people["ada"]  # id is always returned
    listed = scim.get("/Users", filter='userName eq "ada@acme.example"', attributes="active").json()
    assert listed["Resources"] == [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", entra.ENTERPRISE],
                                    "id": people["ada"], "active": True}]


@pytest.mark.django_db
def test_put_replaces_the_whole_user(scim, people):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.example",
            "displayName": "Countess", "emails": [{"type": "work", "value": "ada@acme.example"}]}
    response = scim.put(f"/Users/{people['ada']}", body)
    assert response.status_code == 200
    doc = response.json()
    assert doc["displayName"] == "Countess" and "name" not in doc and "title" not in doc
    assert doc["active"] is True and entra.ENTERPRISE not in doc


@pytest.mark.django_db
def test_put_group_sets_name_and_members(scim, people):
    gid = scim.post("/Groups", entra.CREATE_GROUP).json()["id"]
    scim.patch(f"/Groups/{gid}", entra.add_members(people["ada"]))
    response = scim.put(f"/Groups/{gid}", {"displayName": "Renamed", "members": [{"value": people["alan"]}]})
    assert response.status_code == 200
    doc = response.json()
    assert doc["displayName"] == "Renamed" and [m["value"] for m in doc["members"]] == [people["alan"]]
    assert "externalId" not in doc


@pytest.mark.django_db
def test_patch_covers_every_path_form(scim, people):
    uid = people["ada"]
    ops = [
        {"op": "replace", "path": "userName", "value": "ada.l@acme.example"},
        {"op": "add", "path": "nickName", "value": "Ada"},
        {"op": "add", "path": "name", "value": {"middleName": "King", "honorificPrefix": "Countess"}},
        {"op": "replace", "path": "addresses[type eq \"work\"].formatted", "value": "12 St James's Square"},
        {"op": "add", "path": "emails", "value": [{"type": "other", "value": "ada@other.example"}]},
        {"op": "remove", "path": 'emails[type eq "home"]'},
        {"op": "add", "path": "ims", "value": [{"type": "xmpp", "value": "ada@jabber.example"}]},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
         "value": {"costCenter": "CC-1", "division": "R&D"}},
        {"op": "add", "path": "roles", "value": [{"value": "analyst", "primary": "True"}]},
        {"op": "replace", "path": "timezone", "value": "Europe/London"},
        {"op": "remove", "path": "title"},
    ]
    doc = scim.patch(f"/Users/{uid}", {"schemas": [entra.PATCH_OP], "Operations": ops}).json()
    assert doc["userName"] == "ada.l@acme.example" and doc["nickName"] == "Ada"
    assert doc["name"] == {"givenName": "Ada", "familyName": "Lovelace", "middleName": "King",
                           "honorificPrefix": "Countess"}
    assert doc["addresses"] == [{"type": "work", "formatted": "12 St James's Square"}]
    assert [e["value"] for e in doc["emails"]] == ["ada@acme.example", "ada@other.example"]
    assert doc["ims"] == [{"type": "xmpp", "value": "ada@jabber.example"}]
    assert doc["roles"] == [{"value": "analyst", "primary": True}]
    assert doc[entra.ENTERPRISE] == {"costCenter": "CC-1", "division": "R&D", "department": "Research"}
    assert doc["timezone"] == "Europe/London" and "title" not in doc
    assert names(scim, filter='userName eq "ada.l@acme.example"') == ["ada.l"]


@pytest.mark.django_db
def test_discovery_documents(scim):
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"] == {"supported": True} and config["filter"] == {"supported": True, "maxResults": 200}
    assert config["bulk"]["supported"] is False and config["etag"] == {"supported": False}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = scim.get("/ResourceTypes").json()
    assert types["totalResults"] == 2
    by_id = {t["id"]: t for t in types["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users" and by_id["Group"]["endpoint"] == "/Groups"
    assert by_id["User"]["schemaExtensions"] == [{"schema": entra.ENTERPRISE, "required": False}]
    assert scim.get("/ResourceTypes/User").json()["schema"] == "urn:ietf:params:scim:schemas:core:2.0:User"
    schemas = scim.get("/Schemas").json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert ids == {"urn:ietf:params:scim:schemas:core:2.0:User", entra.ENTERPRISE,
                   "urn:ietf:params:scim:schemas:core:2.0:Group"}
    enterprise = scim.get(f"/Schemas/{entra.ENTERPRISE}").json()
    manager = next(a for a in enterprise["attributes"] if a["name"] == "manager")
    assert {s["name"] for s in manager["subAttributes"]} == {"value", "$ref", "displayName"}
