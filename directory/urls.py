from django.urls import path

from directory.views import api_keys, groups, home, member, people

app_name = "directory"

urlpatterns = [
    path("", home.home, name="home"),
    path("people/", people.people_list, name="people"),
    path("people/<uuid:person_id>/", people.person_detail, name="person-detail"),
    path("people/<uuid:person_id>/edit/", people.person_edit, name="person-edit"),
    path("people/<uuid:person_id>/role/", people.person_role, name="person-role"),
    path("groups/", groups.group_list, name="groups"),
    path("groups/<uuid:group_id>/", groups.group_detail, name="group-detail"),
    path("groups/<uuid:group_id>/role/", groups.group_role, name="group-role"),
    path("settings/api-keys/", api_keys.api_keys, name="api-keys"),
    path("settings/api-keys/new/", api_keys.api_key_create, name="api-key-create"),
    path("settings/api-keys/<int:key_id>/revoke/", api_keys.api_key_revoke, name="api-key-revoke"),
    # For every signed-in person of the tenant, admin or not.
    path("me/", member.my_profile, name="my-profile"),
    path("directory/", member.people_directory, name="people-directory"),
    path("directory/<uuid:person_id>/", member.directory_person, name="directory-person"),
]
