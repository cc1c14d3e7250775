"""Webhooks (staff, as in the admin): create, read, change, delete; their deliveries; send
one again. A hook's secret is never returned, except the one generated for a new hook
created without one, in that answer only. Changes are audited by events/signals.py."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from registry_api.events.webhooks import webhook_secret_apply
from registry_api.models import Namespace, Webhook, WebhookDelivery
from registry_api.services.deliveries import delivery_redeliver

from ..access import require_staff, staff_get
from ..conventions import StrictModelSerializer


class WebhookSerializer(StrictModelSerializer):
    namespace = serializers.SlugRelatedField(slug_field="name", queryset=Namespace.objects.all(), required=False,
                                             allow_null=True)
    signed = serializers.SerializerMethodField()
    new_secret = serializers.CharField(write_only=True, required=False, max_length=200,
                                       help_text="signs deliveries; a new hook without one gets a generated one")
    unsigned = serializers.BooleanField(write_only=True, required=False, default=False,
                                        help_text="send without a signature")

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "namespace", "repository_name", "on_push", "on_delete", "active", "signed",
                  "new_secret", "unsigned", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_signed(self, webhook: Webhook) -> bool:
        return bool(webhook.secret)

    def save(self, **kwargs) -> Webhook:
        data = dict(self.validated_data)
        new_secret, unsigned = data.pop("new_secret", ""), data.pop("unsigned", False)
        webhook = self.instance or Webhook()
        for field, value in data.items():
            setattr(webhook, field, value)
        self.generated_secret = webhook_secret_apply(webhook=webhook, new_secret=new_secret, unsigned=unsigned,
                                                     created=self.instance is None)
        try:
            webhook.full_clean()
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        webhook.save()
        self.instance = webhook
        return webhook


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "status", "attempts", "last_status_code", "last_error", "next_attempt_at",
                  "delivered_at", "created_at", "payload"]


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(required=False, help_text="the generated secret: in this answer only")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookList(generics.ListCreateAPIView):
    serializer_class = WebhookSerializer

    def get_queryset(self):
        require_staff(self.request)
        return Webhook.objects.select_related("namespace").order_by("pk")

    @extend_schema(responses={201: WebhookCreatedSerializer})
    def post(self, request: Request) -> Response:
        require_staff(request)
        incoming = WebhookSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        body = dict(WebhookSerializer(incoming.save()).data)
        if incoming.generated_secret:
            body["secret"] = incoming.generated_secret
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = WebhookSerializer

    def get_object(self) -> Webhook:
        return staff_get(self.request, Webhook.objects.select_related("namespace"), "no such webhook",
                         pk=self.kwargs["pk"])


class Deliveries(generics.ListAPIView):
    serializer_class = DeliverySerializer

    def get_queryset(self):
        require_staff(self.request)
        return WebhookDelivery.objects.filter(webhook_id=self.kwargs["pk"]).order_by("-created_at", "-id")


class Redeliver(generics.GenericAPIView):
    serializer_class = DeliverySerializer

    @extend_schema(request=None, responses={200: DeliverySerializer})
    def post(self, request: Request, pk: int, delivery_id: int) -> Response:
        """Send it again now, whatever its state; the answer says how it went."""
        require_staff(request)
        delivery = WebhookDelivery.objects.select_related("webhook").filter(webhook_id=pk, pk=delivery_id).first()
        if delivery is None:
            raise NotFound("the webhook has no such delivery")
        delivery_redeliver(delivery=delivery)
        return Response(DeliverySerializer(delivery).data)
