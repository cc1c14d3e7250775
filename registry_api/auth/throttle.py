"""Failed-login throttling for the password path (access tokens are never throttled).

Three counters, each a LoginThrottle row counting failures within REGISTRY_LOGIN_WINDOW:

- `pair:<address> <user>`: one client guessing one account; the tight limit
  (REGISTRY_LOGIN_MAX_FAILURES). Reset when that client gets the password right.
- `addr:<address>`: one client spraying passwords over many accounts
  (REGISTRY_LOGIN_MAX_FAILURES_PER_ADDRESS). IPv6 clients count per /64, the block one
  customer usually gets, so rotating through it buys nothing.
- `user:<user>`: a distributed guess at one account from many addresses; a much higher
  limit (REGISTRY_LOGIN_MAX_FAILURES_PER_USER).

Why this shape: a counter per user name alone, as before, let anyone lock `admin` or a CI
robot out from anywhere by typing a wrong password ten times. Harbor freezes the account
for 1.5 s after each failure and its users report exactly that outcome: a loop with a
wrong password, or a misconfigured replication peer, keeps the right users from pulling
(goharbor/harbor#21224, #22909); its maintainers send people to an external IdP. Nexus
leaves lockout to the realm. django-axes can lock on the address, the user name or their
combination; the combination is the one that stops guessing without handing out lockouts.
So the tight limit is per (user, address), and the per-user limit only caps how fast one
account can be guessed from everywhere, on the password path only: access tokens (240
random bits, unguessable, so refusing them protects nothing), docker's stored refresh token
and Bearer tokens already issued keep working while it is reached.

Directory accounts (auth/directory/) have a fourth counter, `bind:<user>`: wrong passwords
the directory itself was asked about, from all addresses, limited by
REGISTRY_LDAP_MAX_FAILED_BINDS over REGISTRY_LDAP_FAILED_BINDS_WINDOW. Active Directory
locks an account after N failed binds within its own window; refusing here first means a
guesser locks the user out of the registry for a while, not out of every system the
directory serves.

A wrong password repeated from the same address within REPEAT_SECONDS counts once:
containerd's `ctr` sends every password twice (the OAuth2 POST, then the GET fallback),
and a repeated guess is no new guess. Expired rows are purged whenever a failure is
recorded, so the table holds at most one window of failures.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..db.precompiled import Precompiled
from ..models import LoginThrottle
from ..oci.errors import RegistryError

# A failure with the same password from the same address this soon after the previous one
# is the client retrying, not a new guess.
REPEAT_SECONDS = 10


class TooManyFailures(RegistryError):
    """A full counter: the API answers 429 TOOMANYREQUESTS, pages the 429 "too many
    attempts" page (middleware.RegistryErrorMiddleware); both with Retry-After."""

    code = "TOOMANYREQUESTS"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"too many failed sign-in attempts; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def _address_key(client_addr: str) -> str:
    try:
        address = ipaddress.ip_address(client_addr)
    except ValueError:
        return client_addr[:64]
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(username: str, client_addr: str, directory: bool = False) -> dict[str, tuple[str, int, int]]:
    """Counter name -> (row key, failures allowed per window, window in seconds)."""
    user, addr = username.lower()[:150], _address_key(client_addr)
    window = settings.REGISTRY_LOGIN_WINDOW
    keys = {
        "pair": (f"pair:{addr} {user}"[:200], settings.REGISTRY_LOGIN_MAX_FAILURES, window),
        "addr": (f"addr:{addr}"[:200], settings.REGISTRY_LOGIN_MAX_FAILURES_PER_ADDRESS, window),
        "user": (f"user:{user}"[:200], settings.REGISTRY_LOGIN_MAX_FAILURES_PER_USER, window),
    }
    if directory:
        keys["bind"] = (f"bind:{user}"[:200], settings.REGISTRY_LDAP_MAX_FAILED_BINDS,
                        settings.REGISTRY_LDAP_FAILED_BINDS_WINDOW)
    return keys


def fingerprint(username: str, password: str) -> str:
    """A keyed hash of the attempt, to recognise a retry without storing the password."""
    message = f"{username}\0{password}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


# Every password login reads its three counters: compiled once (precompiled.py), a third
# of a token request's time before. The window is applied to the (at most three) rows here.
_COUNTERS = Precompiled(
    lambda pair, addr, user, bind: LoginThrottle.objects.filter(key__in=[pair, addr, user, bind]),
    "pair", "addr", "user", "bind",
)


def throttle_check(*, username: str, client_addr: str, directory: bool = False) -> bool:
    """TOOMANYREQUESTS (429, with Retry-After) when any counter of this attempt is full;
    else whether this client has failures counted for this user (to forgive on success).
    `directory`: the password would be sent to the directory, so its counter applies too."""
    now = timezone.now()
    keys = _keys(username, client_addr, directory)
    limits = {key: (limit, timedelta(seconds=window)) for key, limit, window in keys.values()}
    rows = _COUNTERS.all(pair=keys["pair"][0], addr=keys["addr"][0], user=keys["user"][0],
                         bind=keys["bind"][0] if directory else "")
    found = set()
    for row in rows:
        limit, window = limits[row.key]
        if row.window_started_at < now - window:
            continue  # an expired window, not purged yet
        found.add(row.key)
        if row.failures >= limit:
            retry_after = int((row.window_started_at + window - now).total_seconds()) + 1
            raise TooManyFailures(max(retry_after, 1))
    return keys["pair"][0] in found


def _last_attempt_repeated(pair: LoginThrottle | None, attempt: str, now) -> bool:
    return (
        pair is not None and pair.last_failed_at is not None
        and hmac.compare_digest(pair.last_fingerprint, attempt)
        and now - pair.last_failed_at < timedelta(seconds=REPEAT_SECONDS)
    )


def throttle_is_repeat(*, username: str, client_addr: str, attempt: str) -> bool:
    """Whether this client just failed with this very password: the directory is not asked
    again (a second bind would count against the user there too)."""
    pair = LoginThrottle.objects.filter(key=_keys(username, client_addr)["pair"][0]).first()
    return _last_attempt_repeated(pair, attempt, timezone.now())


def throttle_record_failure(*, username: str, client_addr: str, attempt: str, directory: bool = False) -> None:
    """Count a wrong password in every counter, unless it repeats the previous attempt.
    `directory`: the directory rejected it, which counts in the `bind:` counter too."""
    now = timezone.now()
    keys = _keys(username, client_addr, directory)
    with transaction.atomic():
        pair = LoginThrottle.objects.select_for_update().filter(key=keys["pair"][0]).first()
        if _last_attempt_repeated(pair, attempt, now):
            return
        for name, (key, _, seconds) in keys.items():
            window = timedelta(seconds=seconds)
            row, created = LoginThrottle.objects.select_for_update().get_or_create(
                key=key, defaults={"failures": 1, "window_started_at": now}
            )
            if not created:
                if now - row.window_started_at > window:
                    row.failures, row.window_started_at = 1, now
                else:
                    row.failures += 1
            if name == "pair":
                row.last_fingerprint, row.last_failed_at = attempt, now
            row.save()
        throttle_purge(now=now)


def throttle_record_success(*, username: str, client_addr: str) -> None:
    """The client knows the password: its own failures for this account are forgiven (the
    address and account counters stay, or a known account would reset a sprayer's count)."""
    LoginThrottle.objects.filter(key=_keys(username, client_addr)["pair"][0]).delete()


def throttle_forget_binds(*, username: str) -> None:
    """The directory accepted the password, which resets its own count of failed binds
    (AD's badPwdCount, ppolicy's pwdFailureTime): ours starts again too."""
    LoginThrottle.objects.filter(key=_keys(username, "", directory=True)["bind"][0]).delete()


def throttle_purge(*, now=None) -> int:
    """Delete counters whose window is over; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.REGISTRY_LOGIN_WINDOW)
    bind_cutoff = now - timedelta(seconds=settings.REGISTRY_LDAP_FAILED_BINDS_WINDOW)
    expired = LoginThrottle.objects.filter(window_started_at__lt=cutoff).exclude(key__startswith="bind:")
    deleted, _ = expired.delete()
    deleted_binds, _ = LoginThrottle.objects.filter(key__startswith="bind:", window_started_at__lt=bind_cutoff).delete()
    return deleted + deleted_binds
