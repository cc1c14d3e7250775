"""Retention policies: on a namespace (its admins and staff) or on one repository (its
admins), created, read, changed with If-Match, deleted; and a dry run that says which tags
the enabled policies would delete now in the repositories a policy covers, and why
(services/retention.py decides, as `manage.py retention` does). A policy the caller may not
manage is a 404, whatever its id."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.auth.permissions import is_namespace_admin, is_repository_admin, namespace_of
from registry_api.models import RetentionPolicy
from registry_api.services.retention import retention_apply

from ..access import identity_of, namespace_for, repository_for
from ..conventions import ETagOnRead, StrictModelSerializer, etag_of, require_if_match


class PolicySerializer(StrictModelSerializer):
    # Names, resolved by the view: a namespace or repository the caller may not manage is a
    # 404 whether or not it exists.
    namespace = serializers.CharField(source="namespace.name", required=False, allow_null=True)
    repository = serializers.CharField(source="repository.name", required=False, allow_null=True)

    class Meta:
        model = RetentionPolicy
        fields = ["id", "namespace", "repository", "tag_pattern", "keep_last", "keep_pushed_days",
                  "keep_pulled_days", "enabled", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, data: dict) -> dict:
        if self.instance is not None and ({"namespace", "repository"} & set(self.initial_data)):
            raise ValidationError("a policy's namespace or repository cannot change; create another")
        if self.instance is None and bool((data.get("namespace") or {}).get("name")) == bool(
                (data.get("repository") or {}).get("name")):
            raise ValidationError("give a namespace or a repository")
        return data


class DecisionSerializer(serializers.Serializer):
    repository = serializers.CharField()
    tag = serializers.CharField()
    digest = serializers.CharField()
    pushed_at = serializers.DateTimeField()
    pulled_at = serializers.DateTimeField(allow_null=True)
    rule = serializers.CharField(help_text="why it would go")
    manifests = serializers.ListField(child=serializers.CharField(), help_text="manifests only this tag reached")


def _may_manage(request: Request, policy: RetentionPolicy) -> bool:
    identity = identity_of(request)
    if policy.namespace_id:
        return is_namespace_admin(identity, policy.namespace.name)
    return is_repository_admin(identity, policy.repository.name)


def _policy(request: Request, pk: int) -> RetentionPolicy:
    policy = RetentionPolicy.objects.select_related("namespace", "repository").filter(pk=pk).first()
    if policy is None or not _may_manage(request, policy):
        raise NotFound("no such retention policy")
    return policy


def _save(serializer: PolicySerializer, **extra) -> RetentionPolicy:
    """Model validation (the pattern, "at least one rule") as 400s, then the row."""
    data = {name: value for name, value in serializer.validated_data.items() if name not in ("namespace", "repository")}
    data.update(extra)
    policy = serializer.instance or RetentionPolicy()
    for field, value in data.items():
        setattr(policy, field, value)
    try:
        policy.full_clean()
    except DjangoValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        raise ValidationError({("non_field_errors" if k == "__all__" else k): v for k, v in errors.items()}) from None
    policy.save()
    return policy


class PolicyList(generics.ListCreateAPIView):
    """The policies the caller may manage, by id."""

    serializer_class = PolicySerializer

    def get_queryset(self):
        policies = RetentionPolicy.objects.select_related("namespace", "repository").order_by("pk")
        return [p for p in policies if _may_manage(self.request, p)]

    def perform_create(self, serializer: PolicySerializer) -> None:
        namespace = (serializer.validated_data.get("namespace") or {}).get("name")
        if namespace:
            serializer.instance = _save(serializer, namespace=namespace_for(self.request, namespace))
        else:
            repository = repository_for(self.request, serializer.validated_data["repository"]["name"], "manage")
            serializer.instance = _save(serializer, repository=repository)


class PolicyDetail(ETagOnRead, generics.RetrieveUpdateDestroyAPIView):
    """GET answers an ETag; PATCH and PUT need it back in If-Match."""

    serializer_class = PolicySerializer

    def get_object(self) -> RetentionPolicy:
        return _policy(self.request, self.kwargs["pk"])

    def update(self, request: Request, *args, **kwargs) -> Response:
        found = self.get_object()
        with transaction.atomic():  # the row locked: two scripts cannot both match one ETag
            policy = RetentionPolicy.objects.select_for_update().get(pk=found.pk)
            require_if_match(request, etag_of(PolicySerializer(policy).data))
            serializer = self.get_serializer(policy, data=request.data, partial=kwargs.get("partial", False))
            serializer.is_valid(raise_exception=True)
            _save(serializer)
        response = Response(PolicySerializer(policy).data)
        response["ETag"] = etag_of(response.data)
        return response


class PolicyDryRun(generics.GenericAPIView):
    serializer_class = DecisionSerializer

    @extend_schema(responses={200: DecisionSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        """What retention would delete now where this policy applies; nothing is deleted."""
        policy = _policy(request, pk)
        if policy.namespace_id:
            decisions = [d for d in retention_apply(dry_run=True) if namespace_of(d.repository) == policy.namespace.name]
        else:
            decisions = [d for d in retention_apply(dry_run=True) if d.repository == policy.repository.name]
        page = self.paginate_queryset(decisions)
        return self.get_paginated_response(DecisionSerializer(page, many=True).data)
