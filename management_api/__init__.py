"""The management API under /api/v1/: Django REST framework views over the registry's
services and selectors, for scripts (Terraform, CI, dashboards). docs/management-api.md
describes it; the OpenAPI document is served at /api/v1/schema/."""
