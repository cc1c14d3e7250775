"""The admin site (the default `admin.site`, see apps.RegistryAdminConfig): Django's own, but
its password change checks the current password with authenticate().

Django's password change form calls `user.check_password()`, which no backend sees, so it
would be a way to guess a signed-in staff member's password around the failed-login
throttle. Through authenticate() it counts against the same counters as every other
password check (auth/backends.py) and is refused the same way when they are full. The
admin's sign-in needs nothing of its own: its form already calls authenticate().

Its index and side bar are grouped by task (SECTIONS) rather than Django's one list per
app, and its header carries the registry's name with a link to the portal.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth import authenticate
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.urls import reverse


class ThrottledPasswordChangeForm(AdminPasswordChangeForm):
    def __init__(self, user, *args, request=None, **kwargs) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        if not self.user.has_usable_password():
            # A directory account: a local password would take it out of the directory's
            # hands (auth/directory/), and out of reach of its disabling.
            raise ValidationError("This account's password is kept by the directory; change it there.",
                                  code="directory_password")
        verified = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if verified is None or verified.pk != self.user.pk:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class ThrottledPasswordChangeView(PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}  # the client's address


# The admin's sections, in order: (title, slug, model class names). A model registered
# later and listed nowhere lands in "Other", so nothing drops out of sight.
SECTIONS = (
    ("Images", "images", ("Repository", "Tag", "Manifest", "Blob", "RepositoryBlob", "ManifestReference")),
    ("Access", "access", ("User", "Group", "Namespace", "Grant", "RobotAccount", "AccessToken", "LoginThrottle")),
    ("Housekeeping", "housekeeping", ("GarbageCollection", "GcRun", "RetentionPolicy", "NamespaceUsage",
                                      "StaleUpload", "Upload", "BackupLease", "PendingBlobReference")),
    ("Proxy and groups", "proxy", ("ProxyNamespace", "GroupNamespace", "GroupMember", "ProxyFetch")),
    ("Events", "events", ("AuditEvent", "Webhook", "WebhookDelivery")),
    ("Replication", "replication", ("Remote", "Rule", "Job", "Run", "Artifact")),
)


def sections(apps: list[dict], index_url: str) -> list[dict]:
    """Django's app list (one entry per app, models A-Z) regrouped as SECTIONS, each model
    keeping what Django computed for it (its URLs and the viewer's permissions)."""
    by_name = {model["object_name"]: model for app in apps for model in app["models"]}
    grouped, placed = [], set()
    for title, slug, names in SECTIONS + (("Other", "other", tuple(sorted(by_name))),):
        models = [by_name[name] for name in names if name in by_name and name not in placed]
        placed.update(model["object_name"] for model in models)
        if models:
            grouped.append({"name": title, "app_label": slug, "app_url": f"{index_url}#{slug}",
                            "has_module_perms": True, "models": models})
    return grouped


class RegistryAdminSite(admin.AdminSite):
    site_header = "Docker Registry Manager"
    site_title = "Docker Registry Manager admin"
    index_title = "Administration"
    site_url = "/"  # "View site": the portal
    # Django's sign-in page plus the "Sign in with …" link when OpenID Connect is on.
    login_template = "admin/registry_api/login.html"

    def get_app_list(self, request, app_label=None):
        """Grouped by task on the index and in the side bar; one app's own page
        (/admin/<app>/) stays Django's."""
        apps = super().get_app_list(request, app_label)
        if app_label:
            return apps
        return sections(apps, reverse("admin:index", current_app=self.name))

    def password_change(self, request, extra_context=None):
        """Django's `AdminSite.password_change`, with the throttled form."""
        defaults = {
            "success_url": reverse("admin:password_change_done", current_app=self.name),
            "extra_context": {**self.each_context(request), **(extra_context or {})},
        }
        if self.password_change_template is not None:
            defaults["template_name"] = self.password_change_template
        request.current_app = self.name
        return ThrottledPasswordChangeView.as_view(**defaults)(request)
