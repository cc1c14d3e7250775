"""Robot accounts (staff, as in the admin): create one with its first token, whose secret
is in the answer once and never again, and optionally a grant on a namespace; list them;
delete one; list, add and revoke its tokens. Users, grants and tokens are audited by
events/signals.py."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.models import Grant, Namespace, RobotAccount
from registry_api.services.robots import robot_create, robot_delete, robot_token_create, robot_token_revoke
from registry_api.services.tokens import token_list

from ..access import identity_of, require_staff, staff_get
from ..conventions import StrictSerializer
from ..errors import Conflict
from .tokens import TokenCreatedSerializer, TokenCreateSerializer, TokenSerializer, token_made


class RobotGrantSerializer(serializers.Serializer):
    namespace = serializers.CharField(source="namespace.name", allow_null=True, default=None)
    repository = serializers.CharField(source="repository.name", allow_null=True, default=None)
    level = serializers.CharField()


class RobotSerializer(serializers.Serializer):
    name = serializers.CharField(source="user.username")
    description = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    tokens = TokenSerializer(source="user.registry_tokens", many=True)
    grants = RobotGrantSerializer(source="user.registry_grants", many=True)


class RobotCreateSerializer(StrictSerializer):
    name = serializers.RegexField(r"^[\w.@+-]{1,150}$", help_text="what `docker login -u` takes")
    description = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    namespace = serializers.CharField(required=False, help_text="a first grant here, at `level`")
    level = serializers.ChoiceField(choices=Grant.Level.values, required=False)
    read_only = serializers.BooleanField(required=False, default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate(self, data: dict) -> dict:
        if ("namespace" in data) != ("level" in data):
            raise ValidationError("give both namespace and level, or neither")
        if "namespace" in data:
            data["namespace"] = Namespace.objects.filter(name=data["namespace"]).first()
            if data["namespace"] is None:
                raise ValidationError({"namespace": ["no such namespace"]})
        return data


class RobotCreatedSerializer(serializers.Serializer):
    robot = RobotSerializer()
    token = serializers.CharField(help_text="the token's secret: shown only now")


def _robots():
    return RobotAccount.objects.select_related("user").prefetch_related(
        "user__registry_tokens", "user__registry_grants__namespace", "user__registry_grants__repository")


class RobotList(generics.ListCreateAPIView):
    serializer_class = RobotSerializer

    def get_queryset(self):
        require_staff(self.request)
        return _robots().order_by("user__username")

    @extend_schema(request=RobotCreateSerializer, responses={201: RobotCreatedSerializer})
    def post(self, request: Request) -> Response:
        require_staff(request)
        incoming = RobotCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            created = robot_create(
                username=data["name"], description=data["description"], namespace=data.get("namespace"),
                level=data.get("level", ""), read_only=data["read_only"], expires_at=data["expires_at"],
                created_by=identity_of(request).subject)
        except (DjangoValidationError, IntegrityError):
            raise Conflict(f"a user called {data['name']} exists") from None
        robot = _robots().get(pk=created.robot.pk)
        body = RobotCreatedSerializer({"robot": robot, "token": created.secret}).data
        return Response(body, status=status.HTTP_201_CREATED)


def _robot(request: Request, name: str) -> RobotAccount:
    return staff_get(request, _robots(), "no such robot account", user__username=name)


class RobotDetail(generics.RetrieveDestroyAPIView):
    """DELETE: the robot, its tokens (they stop working at once) and its grants."""

    serializer_class = RobotSerializer

    def get_object(self) -> RobotAccount:
        return _robot(self.request, self.kwargs["name"])

    def perform_destroy(self, instance: RobotAccount) -> None:
        robot_delete(robot=instance)


class RobotTokens(generics.ListCreateAPIView):
    """Its tokens (never their secrets); POST adds one, whose secret is in that answer only."""

    serializer_class = TokenSerializer

    def get_queryset(self):
        return token_list(user=_robot(self.request, self.kwargs["name"]).user)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request: Request, name: str) -> Response:
        robot = _robot(request, name)
        incoming = TokenCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        return token_made(lambda: robot_token_create(
            robot=robot, name=data["name"], read_only=data["read_only"], expires_at=data["expires_at"],
            namespace=data["namespace"]))


class RobotToken(generics.GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(responses={200: TokenSerializer})
    def delete(self, request: Request, name: str, token_id: int) -> Response:
        """Revoke the token: it stops working at once, on /v2/ and here."""
        token = robot_token_revoke(robot=_robot(request, name), token_id=token_id)
        if token is None:
            raise NotFound("the robot has no such token")
        return Response(TokenSerializer(token).data)
