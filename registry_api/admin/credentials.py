"""The write-only password of a model holding credentials for another registry (proxy
upstreams, replication remotes): entered, stored encrypted (proxy/credentials.py), never
shown again; or replaced by the name of an environment variable."""
from __future__ import annotations

from django import forms
from django.contrib import admin

from ..services.proxies import stored_password_apply


class WriteOnlyPasswordForm(forms.ModelForm):
    """A ModelForm mixin for models with `password_encrypted` and `password_env`."""

    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Password or token, stored encrypted; leave empty to keep the current one.",
    )
    clear_password = forms.BooleanField(required=False, help_text="Forget the stored password.")

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_env"):
            raise forms.ValidationError("Give a password or an environment variable, not both.")
        return data

    def save(self, commit=True):
        instance = super().save(commit=False)
        stored_password_apply(holder=instance, password=self.cleaned_data.get("password") or "",
                              clear=bool(self.cleaned_data.get("clear_password")),
                              password_env=self.cleaned_data.get("password_env") or "")
        if commit:
            instance.save()
        return instance


class StoredPasswordColumn:
    """A ModelAdmin mixin: whether a password is stored, never what it is."""

    @admin.display(description="stored password")
    def password_stored(self, instance) -> str:
        return "yes (encrypted)" if instance.password_encrypted else "no"
