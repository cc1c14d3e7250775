"""Who is acting in the current request, for the audit trail, without threading it through
every service signature: set once per request, read when an event is recorded."""
from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str = ""
    client_address: str = ""


_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("actor", default=Actor())


def set_actor(name: str, client_address: str) -> None:
    _actor.set(Actor(name, client_address))


def current_actor() -> Actor:
    return _actor.get()


class ActorMiddleware:
    """After authentication: the portal's signed-in user; /v2/ replaces it with the caller
    its own credentials identify (views.common)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = user.get_username() if user is not None and user.is_authenticated else ""
        token = _actor.set(Actor(name, request.META.get("REMOTE_ADDR", "")))
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)
