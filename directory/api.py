"""The directory in the admin REST API: people (with groups and role sources), groups and their members.

Read-only DRF views; every queryset is the key's tenant's (another tenant's
id is a 404). Scope: "Read the directory".
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request

from directory import selectors
from directory.api_access import ApiKeyAuthentication, PerKeyThrottle, ReadsDirectory, api_tenant
from directory.api_pagination import PAGE_SIZE, StableCursorPagination
from directory.keyed_secrets import secrets_redact
from directory.models import Group, Person, Role, Source
from directory.services.roles import role_sources


class ApiView(generics.GenericAPIView):
    """What every view of the admin API shares: API keys, a throttle per key, JSON only, no sessions."""

    authentication_classes = [ApiKeyAuthentication]
    throttle_classes = [PerKeyThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A key pasted into the query string would come back in the next link: refuse it before anything.
        for name, value in request.query_params.items():
            if secrets_redact(value) != value:
                raise serializers.ValidationError(
                    {name: ["This looks like an API key or SCIM token: send keys only in the Authorization header, "
                            "and revoke this one, since URLs end up in logs."]})
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # People and audit trails: no shared or browser cache keeps a copy.
        patch_cache_control(response, no_store=True, private=True)
        return response


def query_params(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The request's query parameters validated by ``serializer_class``: a 400 naming the bad one otherwise."""
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return {name: value for name, value in params.validated_data.items() if value not in ("", None)}


# --- What an operation answers, for the schema ----------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# DRF's answer to bad query parameters: each one's name, with what is wrong with it.
QUERY_ERRORS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
BAD_CURSOR = "The cursor is not one this list gave out."


def api_responses(ok: Any, *, bad_query: bool = False, not_found: str = "") -> dict[int, Any]:
    """``ok`` and every error status the operation can answer, as the schema documents them.

    tests/api/test_api_schema_conformance.py sees each of them happen, and no other.
    """
    responses = {200: ok}
    if bad_query:
        responses[400] = OpenApiResponse(QUERY_ERRORS, "A query parameter is not valid.")
    responses[401] = OpenApiResponse(ErrorSerializer, "No API key, or one that is not valid or has been revoked.")
    responses[403] = OpenApiResponse(ErrorSerializer, "The API key's scope does not include this.")
    if not_found:
        responses[404] = OpenApiResponse(ErrorSerializer, not_found)
    responses[429] = OpenApiResponse(ErrorSerializer, "Too many requests with this API key; Retry-After says "
                                                      "how many seconds to wait.")
    return responses


# --- Serializers ---------------------------------------------------------------------------------


class GroupRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ["id", "display_name"]


class PersonSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active")
    updated = serializers.DateTimeField(source="last_modified")
    role = serializers.ChoiceField(choices=Role.choices)
    source = serializers.ChoiceField(choices=Source.choices)
    custom_attributes = serializers.JSONField(
        help_text="Custom extension attributes by full SCIM name (urn:…:User:<attribute>), each value as sent.")

    class Meta:
        model = Person
        fields = ["id", "user_name", "external_id", "display_name", "given_name", "family_name", "work_email",
                  "emails", "title", "department", "employee_number", "active", "role", "source", "created",
                  "updated", "custom_attributes"]


class RoleSourceSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    kind = serializers.ChoiceField(choices=["console", "app_role", "group", "last_admin"])
    label = serializers.CharField(help_text="The source in the words of the person page.")
    group_id = serializers.UUIDField(allow_null=True)


class PersonDetailSerializer(PersonSerializer):
    groups = serializers.SerializerMethodField()
    role_sources = serializers.SerializerMethodField()
    app_roles = serializers.JSONField(source="roles", help_text="The app roles last sent over SCIM, as sent.")

    class Meta(PersonSerializer.Meta):
        fields = [*PersonSerializer.Meta.fields, "groups", "role_sources", "app_roles"]

    @extend_schema_field(GroupRefSerializer(many=True))
    def get_groups(self, person: Person) -> list[dict[str, Any]]:
        groups = selectors.person_groups(tenant=person.tenant, person_id=person.pk).only("id", "display_name")
        return GroupRefSerializer(groups, many=True).data

    @extend_schema_field(RoleSourceSerializer(many=True))
    def get_role_sources(self, person: Person) -> list[dict[str, Any]]:
        return RoleSourceSerializer(role_sources(person), many=True).data


class GroupSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True, help_text="The role its members get.")
    source = serializers.ChoiceField(choices=Source.choices)
    updated = serializers.DateTimeField(source="last_modified")
    member_count = serializers.IntegerField()

    class Meta:
        model = Group
        fields = ["id", "display_name", "external_id", "role", "source", "member_count", "created", "updated"]


class MemberSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = Person
        fields = ["id", "user_name", "display_name", "active"]


class MembersPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page of members (/groups/{id}/members).")
    results = MemberSerializer(many=True)


class GroupDetailSerializer(GroupSerializer):
    members = serializers.SerializerMethodField(help_text=f"The first {PAGE_SIZE} members; then follow next.")

    class Meta(GroupSerializer.Meta):
        fields = [*GroupSerializer.Meta.fields, "members"]

    @extend_schema_field(MembersPageSerializer)
    def get_members(self, group: Group) -> dict[str, Any]:
        request = self.context["request"]
        paginator = StableCursorPagination()
        page = paginator.paginate_queryset(selectors.group_members(group=group), request)
        next_url = paginator.get_next_link()
        if next_url:  # the rest of the members: the members list, from the cursor on
            next_url = next_url.replace(f"/groups/{group.pk}/?", f"/groups/{group.pk}/members/?", 1)
        return {"next": next_url, "results": MemberSerializer(page, many=True).data}


# --- Query parameters ----------------------------------------------------------------------------


class PeopleQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=["active", "inactive"], required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    updated_since = serializers.DateTimeField(required=False, help_text="People changed at or after this time.")
    search = serializers.CharField(required=False, max_length=200,
                                   help_text="Part of the user name, display name, given or family name, or email.")


class GroupsQuery(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=200, help_text="Part of the group's name.")


# --- Views ---------------------------------------------------------------------------------------


class DirectoryView(ApiView):
    permission_classes = [ReadsDirectory]
    pagination_class = StableCursorPagination


@extend_schema(parameters=[PeopleQuery], tags=["directory"],
               responses=api_responses(PersonSerializer, bad_query=True, not_found=BAD_CURSOR))
class PeopleList(DirectoryView, generics.ListAPIView):
    """The tenant's people, in a stable order (by id); follow the next link."""

    serializer_class = PersonSerializer

    def get_queryset(self) -> Any:
        params = query_params(PeopleQuery, self.request)
        status = {"active": "active", "inactive": "deactivated"}.get(params.pop("status", ""), "")
        return selectors.person_list(tenant=api_tenant(self.request), status=status, **params)


@extend_schema(tags=["directory"],
               responses=api_responses(PersonDetailSerializer, not_found="No person with this id in the tenant."))
class PersonDetail(DirectoryView, generics.RetrieveAPIView):
    """One person, with their groups and every source of their role."""

    serializer_class = PersonDetailSerializer

    def get_object(self) -> Person:
        person = selectors.person_get(tenant=api_tenant(self.request), person_id=self.kwargs["person_id"])
        if person is None:
            raise Http404("No such person.")
        return person


@extend_schema(parameters=[GroupsQuery], tags=["directory"],
               responses=api_responses(GroupSerializer, bad_query=True, not_found=BAD_CURSOR))
class GroupsList(DirectoryView, generics.ListAPIView):
    """The tenant's groups with their member counts, in a stable order (by id)."""

    serializer_class = GroupSerializer

    def get_queryset(self) -> Any:
        return selectors.group_list(tenant=api_tenant(self.request), **query_params(GroupsQuery, self.request))


def _group_or_404(request: Request, group_id: Any, *, with_member_count: bool = False) -> Group:
    tenant, pk = api_tenant(request), selectors.as_uuid(group_id)
    if with_member_count:  # the detail's count; the members list needs only the group
        group = selectors.group_list(tenant=tenant).filter(pk=pk).first() if pk else None
    else:
        group = selectors.group_get(tenant=tenant, group_id=pk)
    if group is None:
        raise Http404("No such group.")
    return group


@extend_schema(tags=["directory"],
               responses=api_responses(GroupDetailSerializer, not_found="No group with this id in the tenant."))
class GroupDetail(DirectoryView, generics.RetrieveAPIView):
    """One group with the first page of its members."""

    serializer_class = GroupDetailSerializer
    pagination_class = None

    def get_object(self) -> Group:
        return _group_or_404(self.request, self.kwargs["group_id"], with_member_count=True)


@extend_schema(tags=["directory"], responses=api_responses(
    MemberSerializer, not_found=f"No group with this id in the tenant. Or: {BAD_CURSOR}"))
class GroupMembers(DirectoryView, generics.ListAPIView):
    """A group's members, in a stable order (by id)."""

    serializer_class = MemberSerializer

    def get_queryset(self) -> Any:
        return selectors.group_members(group=_group_or_404(self.request, self.kwargs["group_id"]))
