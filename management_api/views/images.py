"""A repository's tags and manifests: list and read as its pullers may, delete as its
deleters may (services/manifests.py, which audits each delete). A manifest that indexes
or referrers depend on is deleted only with `?force=true`; without it, 409."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.auth.permissions import is_repository_admin
from registry_api.models import Tag
from registry_api.oci.reference import InvalidReference, parse_digest, validate_tag
from registry_api.selectors.manifests import manifest_detail
from registry_api.selectors.tags import is_artifact
from registry_api.services.dependents import ManifestInUse
from registry_api.services.manifests import manifest_delete

from ..access import identity_of, repository_for
from ..conventions import sort_param
from ..errors import Conflict
from ..permissions import PublicRead

TAG_SORTS = {"name": ("name",), "-name": ("-name",), "pushed": ("updated_at", "name"),
             "-pushed": ("-updated_at", "name")}


class TagSerializer(serializers.Serializer):
    name = serializers.CharField()
    digest = serializers.CharField(source="manifest.digest")
    media_type = serializers.CharField(source="manifest.media_type")
    pushed_at = serializers.DateTimeField(source="updated_at")
    last_pulled_at = serializers.DateTimeField(allow_null=True)
    artifact = serializers.SerializerMethodField(help_text="neither an image nor an index (a signature, an SBOM…)")

    def get_artifact(self, tag) -> bool:
        return is_artifact(tag.manifest.media_type, tag.manifest.artifact_type)


class DescriptorSerializer(serializers.Serializer):
    digest = serializers.CharField()
    media_type = serializers.CharField()
    size = serializers.IntegerField()


class PlatformSerializer(serializers.Serializer):
    digest = serializers.CharField()
    media_type = serializers.CharField()
    platform = serializers.CharField()
    present = serializers.BooleanField(help_text="stored in this repository")


class ManifestSerializer(serializers.Serializer):
    digest = serializers.CharField(source="manifest.digest")
    media_type = serializers.CharField(source="manifest.media_type")
    artifact_type = serializers.CharField(source="manifest.artifact_type")
    tags = serializers.ListField(child=serializers.CharField())
    is_index = serializers.BooleanField()
    total_size = serializers.IntegerField()
    config = DescriptorSerializer(source="config_descriptor", allow_null=True)
    image = serializers.SerializerMethodField()
    layers = DescriptorSerializer(many=True)
    platforms = PlatformSerializer(source="children", many=True)
    subject = serializers.CharField()
    referrers = serializers.ListField(child=serializers.DictField())

    def get_image(self, detail) -> dict | None:
        config = detail.config
        if config is None:
            return None
        return {"platform": config.platform, "created": config.created, "entrypoint": config.entrypoint,
                "cmd": config.cmd, "env": config.env, "labels": config.labels, "user": config.user,
                "working_dir": config.working_dir, "exposed_ports": config.exposed_ports}


def _tag(value: str) -> str:
    try:
        return validate_tag(value)
    except InvalidReference:
        raise ValidationError({"tag": ["not a valid tag name"]}) from None


def _digest(value: str) -> str:
    try:
        return str(parse_digest(value))
    except InvalidReference:
        raise ValidationError({"digest": ["not a valid digest (algorithm:hex)"]}) from None


def _delete(request: Request, name: str, reference: str, allow_dependents: bool = True) -> Response:
    repository_for(request, name, "delete")
    try:
        manifest_delete(repository_name=name, reference=reference, allow_dependents=allow_dependents,
                        override_immutable=is_repository_admin(identity_of(request), name))
    except ManifestInUse as exc:
        raise Conflict(exc.message) from None
    return Response(status=status.HTTP_204_NO_CONTENT)


class TagList(generics.ListAPIView):
    """Open to anonymous callers on repositories they may pull (the portal's tag suggestions
    on a public repository); 401 for them elsewhere."""
    serializer_class = TagSerializer
    permission_classes = [PublicRead]

    def get_queryset(self):
        repository = repository_for(self.request, self.kwargs["name"])
        tags = Tag.objects.filter(repository=repository).select_related("manifest").defer("manifest__payload")
        query = self.request.query_params.get("q", "").strip()
        if query:
            tags = tags.filter(name__contains=query)
        return tags.order_by(*sort_param(self.request, TAG_SORTS, "name"))

    @extend_schema(parameters=[OpenApiParameter("sort", str, enum=sorted(TAG_SORTS)),
                               OpenApiParameter("q", str, description="part of the tag name")])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class TagDetail(generics.GenericAPIView):
    serializer_class = TagSerializer

    def get(self, request: Request, name: str, tag: str) -> Response:
        repository = repository_for(request, name)
        found = Tag.objects.select_related("manifest").filter(repository=repository, name=_tag(tag)).first()
        if found is None:
            raise NotFound("no such tag")
        return Response(TagSerializer(found).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str, tag: str) -> Response:
        """Remove the tag; its manifest stays, reachable by digest."""
        return _delete(request, name, _tag(tag))


class ManifestDetail(generics.GenericAPIView):
    serializer_class = ManifestSerializer

    def get(self, request: Request, name: str, digest: str) -> Response:
        repository = repository_for(request, name)
        return Response(ManifestSerializer(manifest_detail(repository=repository, digest=_digest(digest))).data)

    @extend_schema(parameters=[OpenApiParameter("force", bool, description="delete even if indexes or referrers "
                                                "depend on it")], responses={204: None})
    def delete(self, request: Request, name: str, digest: str) -> Response:
        """Remove the manifest and every tag pointing at it."""
        force = request.query_params.get("force", "false").lower() in ("1", "true", "yes")
        return _delete(request, name, _digest(digest), allow_dependents=force)
