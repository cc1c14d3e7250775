"""Sign in and out with Django's auth views; the form is throttled (see `forms.SignInForm`)."""
from __future__ import annotations

from django.contrib.auth import views as auth_views

from ..forms import SignInForm

login = auth_views.LoginView.as_view(
    template_name="webui/login.html", authentication_form=SignInForm, redirect_authenticated_user=True,
)
logout = auth_views.LogoutView.as_view()
