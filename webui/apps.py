"""The management portal: dashboard, repositories, manifests, deletes, sign-in (issue #4)."""
from django.apps import AppConfig


class WebuiConfig(AppConfig):
    name = "webui"
