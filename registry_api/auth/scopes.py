"""The Docker token scope grammar, `type:name:action[,action]`, without Django."""
from __future__ import annotations

from dataclasses import dataclass

REPOSITORY_ACTIONS = ("pull", "push", "delete")


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def claim(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scope(value: str) -> Scope | None:
    """One resource scope; None when malformed (ignored, as the reference server does).

    The name may itself contain a colon only in the `repository(plugin)` style type,
    so split the type off the front and the actions off the back.
    """
    type_, sep, rest = value.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not type_ or not name:
        return None
    wanted = frozenset(a for a in actions.split(",") if a)
    if "*" in wanted and type_ == "repository":
        wanted = (wanted - {"*"}) | frozenset(REPOSITORY_ACTIONS)
    if not wanted:
        return None
    return Scope(type_.split("(", 1)[0], name, wanted)


def parse_scopes(values: list[str]) -> list[Scope]:
    """Scopes from repeated `scope=` parameters, each possibly space-separated (the POST form)."""
    scopes = []
    for value in values:
        for part in value.split():
            scope = parse_scope(part)
            if scope is not None:
                scopes.append(scope)
    return scopes
