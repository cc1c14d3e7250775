"""A repository's replication page: the rules that copy it to or from other registries,
each with its remote and last run, and for the repository's admins a button that queues a
pass of this repository now (the worker runs it)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from replication.models import Rule
from replication.selectors import rule_source, rules_covering
from replication.triggers import replicate_now

from ..access import repository_view


@require_GET
@repository_view("pull")
def repository_replication(request: HttpRequest, repository) -> HttpResponse:
    return render(request, "webui/replication.html", {"repository": repository,
                                                      "rows": rules_covering(repository.name)})


@require_POST
@repository_view("manage")
def repository_replicate_now(request: HttpRequest, repository) -> HttpResponse:
    number = request.POST.get("rule", "")
    rule = (Rule.objects.select_related("remote").filter(pk=int(number), enabled=True).first()
            if number.isdigit() and len(number) < 19 else None)
    source = rule_source(rule, repository.name) if rule is not None else None
    if source is None:
        messages.error(request, "No enabled replication rule of that number covers this repository.")
    else:
        replicate_now(rule, source)
        messages.success(request, f"A pass of {rule.name} over {repository.name} is queued; "
                                  "the replication worker runs it within seconds.")
    return redirect("webui:repository_replication", name=repository.name)
