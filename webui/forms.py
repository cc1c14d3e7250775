"""Portal forms. Sign-in goes through the registry's credential check, so failed portal
logins count towards the same throttle as `docker login`; the settings page's forms
change a repository for its admins."""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group

from registry_api.auth.access import client_address
from registry_api.auth.credentials import AuthenticationFailed, TooManyFailures, authenticate
from registry_api.models import Grant, Repository


class SignInForm(AuthenticationForm):
    def clean(self) -> dict:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            # Passwords only: access tokens are for clients, and a read-only token must not
            # open a full session.
            identity = authenticate(
                username=username, password=password, client_addr=client_address(self.request), tokens=False
            )
        except TooManyFailures:
            raise forms.ValidationError("Too many failed sign-ins. Try again later.", code="throttled") from None
        except AuthenticationFailed:
            raise self.get_invalid_login_error() from None
        self.user_cache = identity.user
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class RepositorySettingsForm(forms.ModelForm):
    class Meta:
        model = Repository
        fields = ("public", "immutable_tags")
        help_texts = {"public": "Anyone, signed in or not, may pull it."}


class GrantForm(forms.Form):
    """Who gets which level: a user name, or a group's name with "group:" in front."""

    who = forms.CharField(max_length=160, label="User or group:name")
    level = forms.ChoiceField(choices=Grant.Level.choices)

    def clean_who(self) -> dict:
        value = self.cleaned_data["who"].strip()
        if value.startswith("group:"):
            group = Group.objects.filter(name=value.removeprefix("group:")).first()
            if group is None:
                raise forms.ValidationError("No such group.")
            return {"group": group}
        User = get_user_model()
        user = User._default_manager.filter(**{User.USERNAME_FIELD: value}, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No such user.")
        return {"user": user}
