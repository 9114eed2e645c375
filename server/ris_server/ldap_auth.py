"""Directory login over LDAP with ldap3.

A login binds with the service account (`bind_dn`, `bind_password`), finds
the user's entry with `user_filter` under `base_dn`, binds as that entry
with the password given, then lists the groups that name the entry with
`group_filter` under `group_base_dn` (or `base_dn`).

ldap3 is blocking, so each login runs on a small thread pool. The connect
and receive timeouts of each connection, and the wait for the whole login,
are `authentication.ldap.timeout`.
"""

import asyncio
import logging
import math
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from ris_server.config import ConfigError, HubConfig, LdapConfig
from ris_server.errors import Unavailable
from ris_server.store.base import Repository

log = logging.getLogger(__name__)

# Directory logins served at once; more wait for a free thread, within the
# same timeout.
MAX_CONCURRENT_LOGINS = 4

_UNAVAILABLE = "the directory server is unavailable; try again later"

# LDAP result codes (RFC 4511, section 4.1.9) that a search may end with
# without a configuration problem: success, sizeLimitExceeded, noSuchObject.
_SEARCH_RESULTS_OK = (0, 4, 32)


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A directory entry whose password was verified, and its groups."""

    dn: str
    email: str
    group_dns: tuple[str, ...]


def fill_filter(template: str, value: str) -> str:
    """Put `value`, escaped for an LDAP filter (RFC 4515), in place of %s."""
    return template.replace("%s", escape_filter_chars(value))


def socket_timeout(config: LdapConfig) -> int:
    """Return the connect and receive timeout; ldap3 packs socket timeouts
    as whole seconds."""
    return max(1, math.ceil(config.timeout))


def build_server(config: LdapConfig) -> Server:
    """Build the ldap3 server object of the directory.

    Raises ConfigError naming the key when ldap3 rejects the TLS settings or
    the URL.
    """
    try:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=config.ca_file or None)
    except LDAPException as exc:
        raise ConfigError(
            f"authentication.ldap.ca_file = {config.ca_file!r}: {exc}"
        ) from None
    try:
        return Server(
            config.url,
            connect_timeout=socket_timeout(config),
            get_info=NONE,
            tls=tls,
        )
    except LDAPException as exc:
        raise ConfigError(
            f"authentication.ldap.url = {config.url!r}: invalid LDAP server "
            f"address ({type(exc).__name__}: {exc})"
        ) from None


async def check_directory_tenant(store: Repository, config: HubConfig) -> None:
    """Raise ConfigError when LDAP is on and its tenant does not exist.

    Directory users are created in `authentication.ldap.tenant`, or in the
    default tenant when it is empty, so that tenant must exist at start.
    """
    ldap = config.authentication.ldap
    if not ldap.enabled:
        return
    code = ldap.tenant or config.multi_tenant.default_tenant
    if await store.get_tenant(code) is None:
        key = (
            "authentication.ldap.tenant"
            if ldap.tenant
            else "multi_tenant.default_tenant"
        )
        raise ConfigError(
            f"{key} = {code!r}: the tenant for directory users does not exist; "
            "create it first or name an existing tenant"
        )


class LdapAuthenticator:
    """Checks usernames and passwords against one LDAP directory."""

    def __init__(self, config: LdapConfig) -> None:
        self._config = config
        self._socket_timeout = socket_timeout(config)
        self._server = build_server(config)
        self._executor = ThreadPoolExecutor(
            max_workers=MAX_CONCURRENT_LOGINS, thread_name_prefix="ldap"
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """Return the user when the directory accepts the password, else None.

        Raises Unavailable when the directory cannot be reached, does not
        respond within the timeout, or rejects the service account.
        """
        if not username or not password:
            # An empty password would make a simple bind anonymous, which
            # many directories accept.
            return None
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(
            self._executor, self._authenticate, username, password
        )
        try:
            return await asyncio.wait_for(work, self._config.timeout)
        except TimeoutError:
            log.error(
                "directory %s login timed out after %.1f s",
                self._config.url,
                self._config.timeout,
            )
            raise Unavailable(_UNAVAILABLE) from None

    def _connect(self, user: str, password: str) -> tuple[Connection, bool]:
        """Open a connection, start TLS when configured, and bind.

        Returns the connection and whether the bind succeeded. Raises
        LDAPException when the server cannot be reached.
        """
        config = self._config
        connection = Connection(
            self._server,
            user=user or None,
            password=password or None,
            receive_timeout=self._socket_timeout,
            read_only=True,
            raise_exceptions=False,
        )
        connection.open()
        if config.start_tls and not connection.start_tls():
            connection.unbind()
            raise LDAPException(f"StartTLS failed: {connection.result}")
        return connection, bool(connection.bind())

    def _authenticate(self, username: str, password: str) -> DirectoryUser | None:
        config = self._config
        try:
            service, bound = self._connect(config.bind_dn, config.bind_password)
            try:
                if not bound:
                    log.error(
                        "directory %s rejected the service bind as %r: %s",
                        config.url,
                        config.bind_dn,
                        service.result.get("description"),
                    )
                    raise Unavailable(_UNAVAILABLE)
                entry = self._find_user(service, username)
                if entry is None:
                    return None
                dn, email = entry
                if not self._password_matches(dn, password):
                    return None
                groups = self._find_groups(service, dn)
            finally:
                service.unbind()
        except LDAPException as exc:
            log.error("directory %s failed: %s", config.url, exc)
            raise Unavailable(_UNAVAILABLE) from None
        except Unavailable:
            raise
        except Exception:
            # ldap3 raises more than LDAPException on odd replies; a caller
            # still gets UNAVAILABLE rather than an internal error.
            log.exception("directory %s login failed unexpectedly", config.url)
            raise Unavailable(_UNAVAILABLE) from None
        return DirectoryUser(dn, email, groups)

    def _find_user(self, service: Connection, username: str) -> tuple[str, str] | None:
        config = self._config
        service.search(
            search_base=config.base_dn,
            search_filter=fill_filter(config.user_filter, username),
            search_scope=SUBTREE,
            attributes=["mail"],
            size_limit=2,
        )
        self._check_search(service, "user search")
        entries = _entries(service)
        if len(entries) != 1:
            if len(entries) > 1:
                log.warning(
                    "directory login rejected: user_filter matches several "
                    "entries for one username under %s",
                    config.base_dn,
                )
            return None
        entry = entries[0]
        mail = entry.get("attributes", {}).get("mail") or []
        email = mail[0] if isinstance(mail, list) and mail else str(mail or "")
        return entry["dn"], email

    def _password_matches(self, dn: str, password: str) -> bool:
        connection, bound = self._connect(dn, password)
        try:
            return bound
        finally:
            connection.unbind()

    def _find_groups(self, service: Connection, dn: str) -> tuple[str, ...]:
        config = self._config
        service.search(
            search_base=config.group_base_dn or config.base_dn,
            search_filter=fill_filter(config.group_filter, dn),
            search_scope=SUBTREE,
            attributes=["1.1"],
        )
        self._check_search(service, "group search")
        return tuple(entry["dn"] for entry in _entries(service))

    def _check_search(self, service: Connection, search: str) -> None:
        result = service.result or {}
        if result.get("result") not in _SEARCH_RESULTS_OK:
            log.warning(
                "directory %s failed: %s",
                search,
                result.get("description"),
            )


def _entries(connection: Connection) -> list[dict]:
    return [
        item
        for item in connection.response or []
        if item.get("type") == "searchResEntry"
    ]
