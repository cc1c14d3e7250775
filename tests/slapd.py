"""A real OpenLDAP server for the directory sign-in tests: Debian's `slapd` on free
loopback ports (ldap://, StartTLS offered, and ldaps://, with a self-signed certificate for
127.0.0.1 made by openssl, which is also the CA file), with its own slapd.conf and database in a temporary directory (never the
system's /etc/ldap/slapd.d), loaded with the people and groups below, stopped through its
own Popen handle. `stop` and `start` again (same port, same data) stand for an outage.

The directory, dc=example,dc=org (every password is `<uid>-pw`):

    ou=people   alice, bob, carol, dave (inetOrgPerson + posixAccount)
    ou=groups   (each groupOfNames also lists cn=admin, so none is ever empty)
                developers (alice, and the group ops)   ops (dave)
                registry-users (alice, bob, dave)        staff (bob)   admins (bob)
                unique-team (groupOfUniqueNames: alice)  posix-team (posixGroup: alice)
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

SLAPD = "/usr/sbin/slapd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
STARTUP_TIMEOUT = 30
BASE = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{BASE}"
ROOT_PASSWORD = "slapd-root-pw"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
USERS = ("alice", "bob", "carol", "dave")
MEMBERS = {
    "developers": ["uid=alice", "cn=ops"], "ops": ["uid=dave"], "registry-users": ["uid=alice", "uid=bob", "uid=dave"],
    "staff": ["uid=bob"], "admins": ["uid=bob"],
}


def missing_reason() -> str | None:
    if not os.access(SLAPD, os.X_OK):
        return f"{SLAPD} is missing (Debian's slapd; .ci/run installs it)"
    if not (SCHEMA_DIR / "inetorgperson.schema").exists():
        return f"{SCHEMA_DIR} lacks the schema files (Debian's slapd)"
    return None


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def _member_dn(rdn: str) -> str:
    return f"{rdn},{PEOPLE}" if rdn.startswith("uid=") else f"{rdn},{GROUPS}"


def _entries() -> list[tuple[str, dict[str, list[str]]]]:
    entries = [
        (BASE, {"objectClass": ["dcObject", "organization"], "dc": ["example"], "o": ["Example"]}),
        (PEOPLE, {"objectClass": ["organizationalUnit"], "ou": ["people"]}),
        (GROUPS, {"objectClass": ["organizationalUnit"], "ou": ["groups"]}),
    ]
    for number, uid in enumerate(USERS):
        entries.append((user_dn(uid), {
            "objectClass": ["inetOrgPerson", "posixAccount"], "uid": [uid], "cn": [uid.title()],
            "givenName": [uid.title()], "sn": ["Example"], "mail": [f"{uid}@example.org"],
            "userPassword": [f"{uid}-pw"], "uidNumber": [str(10000 + number)], "gidNumber": ["10000"],
            "homeDirectory": [f"/home/{uid}"],
        }))
    for cn, members in MEMBERS.items():
        entries.append((group_dn(cn), {"objectClass": ["groupOfNames"], "cn": [cn],
                                       "member": [_member_dn(m) for m in members] + [ROOT_DN]}))
    entries.append((group_dn("unique-team"), {"objectClass": ["groupOfUniqueNames"], "cn": ["unique-team"],
                                              "uniqueMember": [user_dn("alice")]}))
    entries.append((group_dn("posix-team"), {"objectClass": ["posixGroup"], "cn": ["posix-team"],
                                             "gidNumber": ["20000"], "memberUid": ["alice"]}))
    return entries


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slapd:
    log_level = "0"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="registry-slapd-"))
        self.port, self.tls_port = _free_port(), _free_port()
        self.process: subprocess.Popen | None = None
        (self.root / "db").mkdir()
        self.certificate, key = self.root / "cert.pem", self.root / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(self.certificate)],
            check=True, capture_output=True, timeout=60,
        )
        schemas = "\n".join(f"include {SCHEMA_DIR / name}.schema" for name in ("core", "cosine", "nis", "inetorgperson"))
        modules = f"modulepath {MODULE_DIR}\nmoduleload back_mdb\n" if (MODULE_DIR / "back_mdb.so").exists() else ""
        (self.root / "slapd.conf").write_text(
            f"{schemas}\npidfile {self.root / 'slapd.pid'}\nargsfile {self.root / 'slapd.args'}\n{modules}"
            f"database mdb\nmaxsize 10485760\nsuffix \"{BASE}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PASSWORD}\n"
            f"directory {self.root / 'db'}\n"
            f"TLSCertificateFile {self.certificate}\nTLSCertificateKeyFile {key}\n"
        )

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def settings(self, **extra) -> dict:
        """The registry's REGISTRY_LDAP_* settings for this directory (names as in settings.py)."""
        return {
            "REGISTRY_LDAP_URI": self.uri, "REGISTRY_LDAP_BIND_DN": ROOT_DN,
            "REGISTRY_LDAP_BIND_PASSWORD": ROOT_PASSWORD, "REGISTRY_LDAP_USER_BASE": PEOPLE,
            "REGISTRY_LDAP_GROUP_BASE": GROUPS, "REGISTRY_LDAP_TIMEOUT": 3, **extra,
        }

    def start(self) -> None:
        log = (self.root / "slapd.log").open("ab")
        # -d: stay in the foreground (so the Popen handle is the server), logging `log_level`
        # (0 nothing; 256 "stats", a line per operation, which bench/directory.py counts).
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(self.root / "slapd.conf"), "-h", f"{self.uri}/ {self.tls_uri}/", "-d", self.log_level],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.process.returncode}:\n{(self.root / 'slapd.log').read_text()}")
            try:
                self.connection().unbind_s()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"slapd did not answer within {STARTUP_TIMEOUT}s")

    def stop(self) -> None:
        from tests.e2e.support import stop_process

        process, self.process = self.process, None
        if process is not None:
            stop_process(process, timeout=15)

    def connection(self):
        import ldap

        conn = ldap.initialize(self.uri)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
        conn.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
        return conn

    def load(self) -> None:
        import ldap.modlist

        conn = self.connection()
        try:
            for dn, attrs in _entries():
                conn.add_s(dn, ldap.modlist.addModlist({k: [v.encode() for v in vals] for k, vals in attrs.items()}))
        finally:
            conn.unbind_s()

    def modify(self, dn: str, changes: list[tuple[int, str, list[str]]]) -> None:
        """ldap.MOD_ADD / MOD_DELETE / MOD_REPLACE of attribute values, as the directory's admin would."""
        conn = self.connection()
        try:
            conn.modify_s(dn, [(op, attr, [v.encode() for v in values]) for op, attr, values in changes])
        finally:
            conn.unbind_s()

    def log(self) -> str:
        return (self.root / "slapd.log").read_text(errors="replace")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_slapd(log_level: str = "0") -> Slapd:
    """A loaded server; the caller stops it with `remove()`."""
    server = Slapd()
    server.log_level = log_level
    try:
        server.start()
        server.load()
    except BaseException:
        server.remove()
        raise
    return server


@contextlib.contextmanager
def running_slapd() -> Iterator[Slapd]:
    """For a fixture: skips (or fails, under REGISTRY_E2E_REQUIRE_TOOLS) without slapd."""
    from tests.e2e.support import unavailable

    reason = missing_reason()
    if reason:
        unavailable(reason)
    server = start_slapd()
    try:
        yield server
    finally:
        server.remove()
