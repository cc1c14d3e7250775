"""Portal forms: the settings page's forms change a repository for its admins. (Sign-in is
Django's own form: its authenticate() call is throttled like `docker login`, see
registry_api/auth/backends.py.)"""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from registry_api.models import Grant, Repository


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


class TokenForm(forms.Form):
    """A new access token of one's own; the service (services/tokens.py) checks the rest."""

    EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "a year"), ("", "never")]

    name = forms.CharField(max_length=100, help_text="What it is for: a laptop, a CI pipeline.")
    read_only = forms.BooleanField(required=False, label="Read-only (pull only)")
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, initial="90", label="Expires in")
    namespace = forms.CharField(max_length=255, required=False, label="Only in namespace",
                                help_text="Empty: everywhere you may go. A name: only its repositories.")
