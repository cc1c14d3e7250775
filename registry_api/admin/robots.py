"""Admin for robot accounts: "Add robot account" makes the user, its first token (shown
once) and optionally a grant, through `services.robots`; people and robots are told apart
in the user list too."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from ..models import Grant, Namespace, RobotAccount
from ..services.robots import robot_create

# Creating a robot creates a user, a token and maybe a grant: whoever does it must be
# allowed all of those, or the form would be a way around the permissions.
ADD_PERMISSIONS = ("registry_api.add_robotaccount", "auth.add_user", "registry_api.add_accesstoken", "registry_api.add_grant")


class RobotAccountCreationForm(forms.ModelForm):
    username = forms.CharField(max_length=150, help_text="What `docker login -u` takes, e.g. ci-deploy.")
    namespace = forms.ModelChoiceField(Namespace.objects.all(), required=False, help_text="Optional: a first grant.")
    level = forms.ChoiceField(choices=[("", "---------"), *Grant.Level.choices], required=False)
    read_only = forms.BooleanField(required=False, help_text="The first token may only pull.")
    expires_at = forms.SplitDateTimeField(required=False, widget=admin.widgets.AdminSplitDateTime,
                                     help_text="When the first token stops working; empty = never.")

    class Meta:
        model = RobotAccount
        fields = ("description",)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).exists():
            raise forms.ValidationError("A user with that name exists already.")
        return username

    def clean(self) -> dict:
        data = super().clean()
        if bool(data.get("namespace")) != bool(data.get("level")):
            raise forms.ValidationError("Give both a namespace and a level for the first grant, or neither.")
        return data


@admin.register(RobotAccount)
class RobotAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "description", "grants", "token_count", "last_used", "created_by", "created_at")
    search_fields = ("user__username", "description")
    readonly_fields = ("user", "created_by", "created_at", "tokens")

    def has_add_permission(self, request) -> bool:
        return request.user.has_perms(ADD_PERMISSIONS)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = RobotAccountCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("username", "description", "namespace", "level", "read_only", "expires_at")
        return ("user", "description", "tokens", "created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").prefetch_related(
            "user__registry_tokens", "user__registry_grants__namespace", "user__registry_grants__repository"
        )

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        created = robot_create(
            username=data["username"], description=data["description"], namespace=data.get("namespace"),
            level=data.get("level", ""), read_only=data.get("read_only", False), expires_at=data.get("expires_at"),
            created_by=request.user.get_username(),
        )
        obj.pk = created.robot.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            f"Robot account created. Copy its token now, it will not be shown again: {created.secret}  "
            f"(docker login -u {data['username']} --password-stdin)",
        )

    @admin.display(description="grants")
    def grants(self, obj) -> str:
        return ", ".join(f"{g.level} on {g.namespace or g.repository}" for g in obj.user.registry_grants.all()) or "—"

    @admin.display(description="tokens")
    def token_count(self, obj) -> int:
        return sum(not t.revoked for t in obj.user.registry_tokens.all())

    @admin.display(description="last used")
    def last_used(self, obj):
        return max((t.last_used_at for t in obj.user.registry_tokens.all() if t.last_used_at), default=None)

    @admin.display(description="access tokens")
    def tokens(self, obj) -> str:
        rows = format_html_join(
            "", "<li>{} ({}…){}{}</li>",
            ((t.name, t.prefix, " read-only" if t.read_only else "", " revoked" if t.revoked else "")
             for t in obj.user.registry_tokens.all()),
        )
        add = reverse("admin:registry_api_accesstoken_add") + f"?user={obj.pk}"
        return format_html('<ul>{}</ul><a href="{}">Add another token</a>', rows, add)


class IsRobot(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "robot"

    def lookups(self, request, model_admin):
        return [("no", "people"), ("yes", "robot accounts")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(robot_account__isnull=self.value() == "no")
        return queryset


class RegistryUserAdmin(UserAdmin):
    """Django's user admin, with robots marked and filterable."""

    list_display = (*UserAdmin.list_display, "is_robot")
    list_filter = (IsRobot, *UserAdmin.list_filter)
    list_select_related = ("robot_account",)

    @admin.display(boolean=True, description="robot")
    def is_robot(self, obj) -> bool:
        return hasattr(obj, "robot_account")


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), RegistryUserAdmin)
