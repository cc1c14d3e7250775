"""Repositories, their tags and manifests: listed as the caller may pull them (a repository
they may not pull is a 404, as on /v2/ and in the portal), deleted through the same
services as the portal's delete buttons (which audit each delete)."""
from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.auth.permissions import allowed_actions, is_repository_admin, visible_repositories
from registry_api.models import Repository
from registry_api.selectors.repositories import (
    SORTS, repository_search, repository_sizes, repository_visibility, with_listing_figures, with_visibility,
)
from registry_api.db.locking import lock_repository
from registry_api.services.grants import repository_settings_update
from registry_api.services.repositories import repository_delete

from ..access import identity_of, repository_for
from ..conventions import StrictSerializer, etag_of, require_if_match, sort_param

SORT_PARAMETER = OpenApiParameter("sort", str, enum=sorted(SORTS), description="a leading - sorts descending")
LIST_PARAMETERS = [
    SORT_PARAMETER,
    OpenApiParameter("q", str, description="part of the name"),
    OpenApiParameter("namespace", str, description="only this namespace"),
]


class RepositoryRowSerializer(serializers.Serializer):
    name = serializers.CharField()
    public = serializers.SerializerMethodField()
    tag_count = serializers.IntegerField()
    size = serializers.IntegerField(help_text="bytes of the blobs it links, each once")
    last_push = serializers.DateTimeField(allow_null=True)

    def get_public(self, repository: Repository) -> bool:
        return repository_visibility(repository=repository).public


class RepositoryDetailSerializer(serializers.Serializer):
    name = serializers.CharField()
    public = serializers.BooleanField()
    visibility = serializers.CharField(help_text="private, public, or why it is public")
    immutable_tags = serializers.BooleanField()
    tag_count = serializers.IntegerField()
    size = serializers.IntegerField()
    unique_size = serializers.IntegerField(help_text="bytes no other repository links: what deleting it frees")
    your_actions = serializers.ListField(child=serializers.CharField())


class RepositorySettingsSerializer(StrictSerializer):
    public = serializers.BooleanField(required=False)
    immutable_tags = serializers.BooleanField(required=False)


def _settings_etag(repository: Repository) -> str:
    """Over the settings only: a push changes the figures, not what a PATCH would overwrite."""
    return etag_of({"name": repository.name, "public": repository.public, "immutable_tags": repository.immutable_tags})


class RepositoryDeletedSerializer(serializers.Serializer):
    deleted = serializers.CharField()
    tags = serializers.IntegerField()
    manifests = serializers.IntegerField()


class RepositoryList(generics.ListAPIView):
    serializer_class = RepositoryRowSerializer

    def get_queryset(self):
        params = self.request.query_params
        found = repository_search(repositories=visible_repositories(identity_of(self.request)),
                                  query=params.get("q", ""), namespace=params.get("namespace", ""))
        ordering = sort_param(self.request, SORTS, "name")
        # The name is unique and ends every ordering: pages are stable.
        return with_visibility(with_listing_figures(found)).order_by(*ordering, *(() if "name" in ordering else ("name",)))

    @extend_schema(parameters=LIST_PARAMETERS)
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class RepositoryDetail(generics.GenericAPIView):
    serializer_class = RepositoryDetailSerializer

    def get(self, request: Request, name: str) -> Response:
        repository = repository_for(request, name)
        sizes = repository_sizes(repository=repository)
        visibility = repository_visibility(repository=repository)
        response = Response(RepositoryDetailSerializer({
            "name": repository.name, "public": repository.public, "visibility": visibility.text,
            "immutable_tags": repository.immutable_tags, "tag_count": repository.tags.count(),
            "size": sizes.total, "unique_size": sizes.unique,
            "your_actions": sorted(allowed_actions(identity_of(request), name)),
        }).data)
        response["ETag"] = _settings_etag(repository)
        return response

    @extend_schema(request=RepositorySettingsSerializer, responses={200: RepositoryDetailSerializer})
    def patch(self, request: Request, name: str) -> Response:
        """The public flag and immutable tags (its admins), with If-Match from the GET."""
        repository = repository_for(request, name, "manage")
        incoming = RepositorySettingsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with transaction.atomic():
            repository = lock_repository(repository.pk)
            require_if_match(request, _settings_etag(repository))
            changes = {"public": repository.public, "immutable_tags": repository.immutable_tags,
                       **incoming.validated_data}
            repository_settings_update(repository=repository, **changes)
        return self.get(request, name)

    @extend_schema(responses={200: RepositoryDeletedSerializer})
    def delete(self, request: Request, name: str) -> Response:
        """The repository with its tags and manifests (its admins; immutable tags too)."""
        repository_for(request, name, "delete-repository")
        deleted = repository_delete(name=name, override_immutable=is_repository_admin(identity_of(request), name))
        return Response(RepositoryDeletedSerializer(
            {"deleted": deleted.name, "tags": deleted.tags, "manifests": deleted.manifests}).data,
            status=status.HTTP_200_OK)


class RepositoryDeleteAlias(RepositoryDetail):
    """`DELETE /api/repositories/<name>`, the repository delete scripts used before /api/v1/
    existed (documented in docs/api.md): kept as an alias of the DELETE above, the same
    rights and answer, so those scripts keep working."""
    http_method_names = ["delete", "options"]

    @extend_schema(exclude=True)
    def delete(self, request: Request, name: str) -> Response:
        return super().delete(request, name)
