"""The admin site (the default `admin.site`, see apps.RegistryAdminConfig): Django's own, but
its password change checks the current password with authenticate().

Django's password change form calls `user.check_password()`, which no backend sees, so it
would be a way to guess a signed-in staff member's password around the failed-login
throttle. Through authenticate() it counts against the same counters as every other
password check (auth/backends.py) and is refused the same way when they are full. The
admin's sign-in needs nothing of its own: its form already calls authenticate().
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
        verified = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if verified is None or verified.pk != self.user.pk:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class ThrottledPasswordChangeView(PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}  # the client's address


class RegistryAdminSite(admin.AdminSite):
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
