"""Portal forms. Sign-in goes through the registry's credential check, so failed portal
logins count towards the same per-user and per-address throttle as `docker login`."""
from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from registry_api.auth.access import client_address
from registry_api.auth.credentials import AuthenticationFailed, TooManyFailures, authenticate


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
