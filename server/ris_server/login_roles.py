"""The role a user gets at login: stored role, directory groups and config lists.

`authorization.rbac.super_admin_users` and `admin_users` name users by
username or email, compared without case. A listed name raises the role of
directory users and of local users of the default tenant
(`multi_tenant.default_tenant`) only, because an admin of any other tenant
may create local users of any name there. A listed role only raises a
user's role: a superadmin listed in `admin_users` stays superadmin.
"""

from collections.abc import Iterable, Mapping

from ris_server import rbac
from ris_server.config import RbacConfig


def _folded(names: Iterable[str]) -> set[str]:
    return {name.casefold() for name in names if name}


def listed_role(names: Iterable[str], config: RbacConfig) -> int:
    """Return the role the config lists any of `names` under, or 0 for none."""
    candidates = _folded(names)
    if candidates & _folded(config.super_admin_users):
        return rbac.SUPERADMIN
    if candidates & _folded(config.admin_users):
        return rbac.ADMIN
    return 0


def effective_role(stored_role: int, names: Iterable[str], config: RbacConfig) -> int:
    """Return the stored role raised to the listed role, if the user is listed."""
    return max(stored_role, listed_role(names, config))


def account_role(
    stored_role: int,
    name: str,
    tenant_code: str,
    external: bool,
    config: RbacConfig,
    default_tenant: str,
) -> int:
    """Return the role an account gets at login from its stored role and name.

    The lists apply to a directory user (`external`) in any tenant and to a
    local user of `default_tenant`; any other account keeps its stored role.
    """
    if external or tenant_code == default_tenant:
        return effective_role(stored_role, [name], config)
    return stored_role


def _split_rdns(dn: str) -> list[str]:
    """Split a DN at its unescaped commas."""
    parts, current, escaped = [], [], False
    for char in dn:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def normalize_dn(dn: str) -> str:
    """Return a DN in a form for comparison: no spaces around separators, folded.

    Attribute values are compared without case, as the schemas of the usual
    naming attributes (cn, ou, dc, uid) define them.
    """
    parts = []
    for rdn in _split_rdns(dn):
        attribute, _, value = rdn.partition("=")
        parts.append(f"{attribute.strip()}={value.strip()}")
    return ",".join(parts).casefold()


def directory_role(
    group_dns: Iterable[str],
    group_roles: Mapping[str, str],
    default_role: str,
) -> int:
    """Return the highest role the user's groups map to, else `default_role`."""
    mapped = {
        normalize_dn(dn): rbac.ROLE_NAMES[name] for dn, name in group_roles.items()
    }
    roles = [mapped[key] for key in map(normalize_dn, group_dns) if key in mapped]
    return max(roles) if roles else rbac.ROLE_NAMES[default_role]
