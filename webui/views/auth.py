"""Sign in and out with Django's auth views. The sign-in form's authenticate() call goes
through the throttled backend (registry_api/auth/backends.py): failed portal sign-ins count
with those of `docker login`, and a full counter is the 429 "too many attempts" page."""
from __future__ import annotations

from django.contrib.auth import views as auth_views

login = auth_views.LoginView.as_view(template_name="webui/login.html", redirect_authenticated_user=True)
logout = auth_views.LogoutView.as_view()
