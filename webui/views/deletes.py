"""Deleting a tag, a manifest or a whole repository: a confirmation page (GET), then the
service (POST, CSRF-checked). Domain errors become messages, as in the rest of the portal."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from registry_api.auth.permissions import is_repository_admin
from registry_api.models import Manifest, Tag
from registry_api.oci.errors import RegistryError
from registry_api.selectors.repositories import repository_sizes
from registry_api.services.dependents import ManifestInUse, manifest_dependents
from registry_api.services.manifests import manifest_delete as delete_manifest_or_tag
from registry_api.services.repositories import repository_delete as delete_repository

from ..access import identity_of, repository_view


def _confirm(request: HttpRequest, repository, **context) -> HttpResponse:
    return render(request, "webui/confirm_delete.html", {"repository": repository, **context})


def _delete_reference(request: HttpRequest, repository, reference: str, what: str, confirmed: bool = True) -> HttpResponse:
    """A repository admin may delete even immutable tags here (never through /v2/)."""
    try:
        delete_manifest_or_tag(repository_name=repository.name, reference=reference, allow_dependents=confirmed,
                               override_immutable=is_repository_admin(identity_of(request), repository.name))
    except ManifestInUse:
        messages.error(request, f"Did not delete {what}: other manifests depend on it; tick the box to confirm.")
        return redirect("webui:manifest_delete", name=repository.name, digest=reference)
    except RegistryError as exc:
        messages.error(request, f"Could not delete {what}: {exc.message}.")
    else:
        messages.success(request, f"Deleted {what}.")
    return redirect("webui:repository", name=repository.name)


@require_http_methods(["GET", "POST"])
@repository_view("delete")
def tag_delete(request: HttpRequest, repository, tag: str) -> HttpResponse:
    """Remove one tag; the manifest stays, reachable by digest and by its other tags."""
    found = Tag.objects.select_related("manifest").filter(repository=repository, name=tag).first()
    if found is None:
        raise Http404("No such tag.")
    if request.method == "POST":
        return _delete_reference(request, repository, tag, f"tag {tag}")
    return _confirm(request, repository, kind="tag", tag=found)


@require_http_methods(["GET", "POST"])
@repository_view("delete")
def manifest_delete(request: HttpRequest, repository, digest: str) -> HttpResponse:
    """Remove a manifest and every tag pointing at it; when indexes list it or referrers
    point at it, the page says what breaks and the POST needs the confirmation box ticked
    (the service checks again under the lock)."""
    manifest = Manifest.objects.filter(repository=repository, digest=digest).only("digest", "media_type").first()
    if manifest is None:
        raise Http404("No such manifest.")
    if request.method == "POST":
        confirmed = request.POST.get("confirm_dependents") == "yes"
        return _delete_reference(request, repository, digest, f"manifest {digest}", confirmed)
    tags = Tag.objects.filter(manifest=manifest).order_by("name").values_list("name", flat=True)
    return _confirm(request, repository, kind="manifest", manifest=manifest, tags=list(tags),
                    dependents=manifest_dependents(repository=repository, digest=digest))


@require_http_methods(["GET", "POST"])
@repository_view("delete-repository")
def repository_delete(request: HttpRequest, repository) -> HttpResponse:
    """Remove the repository and everything in it; the visitor types its name to confirm."""
    if request.method == "POST" and request.POST.get("confirm_name") == repository.name:
        try:
            deleted = delete_repository(name=repository.name,
                                        override_immutable=is_repository_admin(identity_of(request), repository.name))
        except RegistryError as exc:
            messages.error(request, f"Could not delete {repository.name}: {exc.message}.")
            return redirect("webui:repository", name=repository.name)
        counts = f"{deleted.tags} tag{pluralize(deleted.tags)}, {deleted.manifests} manifest{pluralize(deleted.manifests)}"
        messages.success(request, f"Deleted repository {deleted.name} ({counts}).")
        return redirect(reverse("webui:repositories"))
    if request.method == "POST":
        messages.error(request, "Type the repository's name to confirm.")
    return _confirm(request, repository, kind="repository", sizes=repository_sizes(repository=repository))
