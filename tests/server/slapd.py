"""A private OpenLDAP server for tests: its own config, data and port.

The directory is loaded offline with slapadd, then slapd serves it on
ldap://127.0.0.1:<free port> in the foreground until stop().
"""

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")

BASE_DN = "dc=example,dc=org"
ROOT_DN = f"cn=root,{BASE_DN}"
ROOT_PASSWORD = "test-root-password"
SERVICE_DN = f"cn=reader,ou=services,{BASE_DN}"
SERVICE_PASSWORD = "test-reader-password"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"

# uid: (password, mail, groups)
USERS = {
    "alice": ("alice-directory-pw", "alice@example.org", ["operators"]),
    "bob": ("bob-directory-pw", "bob@example.org", ["operators", "admins"]),
    "carol": ("carol-directory-pw", "carol@example.org", ["staff"]),
    "dave": ("dave-directory-pw", "dave@example.org", []),
}
GROUPS = ("operators", "admins", "staff")


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE_DN}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS_DN}"


def _config(root: Path) -> str:
    schemas = "\n".join(
        f"include {SCHEMA_DIR / name}.schema"
        for name in ("core", "cosine", "inetorgperson")
    )
    # Anonymous clients may only bind; bound users read everything but
    # passwords, so the hub must search with its service account.
    return f"""{schemas}
pidfile {root / "slapd.pid"}
argsfile {root / "slapd.args"}
modulepath {MODULE_DIR}
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {root / "db"}
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


def _data() -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: Example\ndc: example\n",
        f"dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\n"
        f"objectClass: simpleSecurityObject\ncn: reader\n"
        f"userPassword: {SERVICE_PASSWORD}\n",
    ]
    for uid, (password, mail, _) in USERS.items():
        entries.append(
            f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: {uid.title()}\nsn: {uid.title()}\nmail: {mail}\n"
            f"userPassword: {password}\n"
        )
    for name in GROUPS:
        members = [uid for uid, (_, _, groups) in USERS.items() if name in groups]
        # groupOfNames needs a member, so each group keeps one that is no user.
        lines = f"member: cn=placeholder,{BASE_DN}\n"
        lines += "".join(f"member: {user_dn(uid)}\n" for uid in members)
        entries.append(
            f"dn: {group_dn(name)}\nobjectClass: groupOfNames\ncn: {name}\n{lines}"
        )
    return "\n".join(entries)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Slapd:
    """One running slapd process and the URL it serves."""

    root: Path
    process: subprocess.Popen | None = None
    url: str = ""

    @classmethod
    def start(cls, root: Path) -> "Slapd":
        (root / "db").mkdir(parents=True)
        config = root / "slapd.conf"
        config.write_text(_config(root))
        data = root / "data.ldif"
        data.write_text(_data())
        subprocess.run(
            [str(SLAPADD), "-f", str(config), "-l", str(data)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        server = cls(root)
        for _ in range(3):
            if server._serve(config):
                return server
        raise RuntimeError(f"slapd did not start; see {root / 'slapd.log'}")

    def _serve(self, config: Path) -> bool:
        port = free_port()
        log = (self.root / "slapd.log").open("ab")
        # -d 0 keeps slapd in the foreground, so stop() can end it.
        self.process = subprocess.Popen(
            [
                str(SLAPD),
                "-f",
                str(config),
                "-h",
                f"ldap://127.0.0.1:{port}/",
                "-d",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    self.url = f"ldap://127.0.0.1:{port}"
                    return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
