"""The management portal (browsing images; grows in the portal issue)."""
from django.apps import AppConfig


class WebuiConfig(AppConfig):
    name = "webui"
