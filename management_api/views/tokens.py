"""Each caller's own access tokens, over services/tokens.py (the portal's tokens page): list,
create (the secret is in that answer only), revoke. Another user's token does not exist for
the caller (404); staff may list anyone's with `?user=<name>`, or everyone's with `?user=*`,
and revoke them in the admin. A token used here makes tokens at most as limited as itself.
The signals in events/signals.py audit each change."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.models import AccessToken
from registry_api.services.tokens import TokenInvalid, TokenNotFound, token_create, token_list, token_list_everyone, token_revoke

from ..access import identity_of, require_staff
from ..conventions import StrictSerializer

EVERYONE = "*"
USER_PARAMETER = OpenApiParameter(
    "user", str, description=f"staff: this user's tokens instead of your own, or `{EVERYONE}` for everyone's")


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    user = serializers.CharField(source="user.username")
    prefix = serializers.CharField(help_text="the secret's first characters, to recognise it")
    namespace = serializers.CharField(source="namespace.name", allow_null=True, default=None,
                                      help_text="the only namespace it reaches; null: no limit")
    read_only = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class TokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=AccessToken._meta.get_field("name").max_length)
    namespace = serializers.CharField(required=False, default="", allow_blank=True,
                                      help_text="limit it to this namespace")
    read_only = serializers.BooleanField(required=False, default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class TokenCreatedSerializer(TokenSerializer):
    secret = serializers.CharField(help_text="the token itself: in this answer only")


def token_made(make) -> Response:
    """201 with the token `make()` creates and its secret, shown once; the service's
    refusal of a bad name, date or namespace is a 400."""
    try:
        token, secret = make()
    except TokenInvalid as exc:
        raise ValidationError(exc.message) from None
    return Response({**TokenSerializer(token).data, "secret": secret}, status=status.HTTP_201_CREATED)


class TokenList(generics.ListCreateAPIView):
    serializer_class = TokenSerializer

    def get_queryset(self):
        identity = identity_of(self.request)
        wanted = self.request.query_params.get("user", identity.subject)
        if wanted == identity.subject:
            return token_list(user=identity.user, within=identity)
        require_staff(self.request)
        if wanted == EVERYONE:
            return token_list_everyone()
        user = get_user_model()._default_manager.filter(username=wanted).first()
        if user is None:
            raise ValidationError({"user": ["no such user"]})
        return token_list(user=user)

    @extend_schema(parameters=[USER_PARAMETER])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        incoming = TokenCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        identity = identity_of(request)
        if identity.user is None:  # only while access control is off: nobody to own it
            raise ValidationError("sign in to create a token of your own")
        data = incoming.validated_data
        return token_made(lambda: token_create(
            user=identity.user, name=data["name"], read_only=data["read_only"], expires_at=data["expires_at"],
            namespace=data["namespace"], within=identity))


class TokenDetail(generics.GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(responses={200: TokenSerializer})
    def delete(self, request: Request, token_id: int) -> Response:
        """Revoke one of your tokens: it stops working at once, on /v2/ and here."""
        identity = identity_of(request)
        try:
            token = token_revoke(user=identity.user, token_id=token_id, within=identity)
        except TokenNotFound:
            raise NotFound("you have no such token") from None
        return Response(TokenSerializer(token).data)
