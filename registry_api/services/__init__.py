"""Domain operations shared by the /v2/ API, the portal, the admin and management commands.

Services raise `registry_api.oci.errors.RegistryError` subclasses; each caller presents them.
"""
