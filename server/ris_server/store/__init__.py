"""Persistent stores behind one async repository interface."""

from pathlib import Path
from typing import TYPE_CHECKING

from ris_server.store.base import Repository, TaskOutcome

if TYPE_CHECKING:
    from ris_server.config import HubConfig

__all__ = [
    "TENANTS_DIR",
    "Repository",
    "TaskOutcome",
    "control_database_path",
    "database_info",
    "open_store",
]

# Folder of the data directory with one database per tenant ("database" mode).
TENANTS_DIR = "tenants"


def database_info(tenant_isolation: str, code: str) -> dict:
    """Return a tenant's `database_info`: the SQLite database of its data."""
    if tenant_isolation == "database":
        return {"type": "sqlite", "database": f"{TENANTS_DIR}/{code}.db"}
    return {"type": "sqlite", "database": "ris"}


def control_database_path(config: "HubConfig") -> Path:
    """Return database.sqlite_path, or DATA/ris.db."""
    return Path(config.database.sqlite_path or config.data_dir / "ris.db")


async def open_store(config: "HubConfig") -> Repository:
    """Open the store that multi_tenant.tenant_isolation selects.

    "shared" opens one SQLite file. "database" opens the control database
    and one database per tenant (store/tenant_databases.py). Raises
    ConfigError when the data directory was written in the other mode.
    """
    # Imported here because these modules import this package, which would
    # still be half initialized at the top of the file.
    from ris_server.config import ConfigError
    from ris_server.store.sqlite import SqliteStore
    from ris_server.store.tenant_databases import TenantDatabases

    control = control_database_path(config)
    tenants_dir = config.data_dir / TENANTS_DIR
    if config.multi_tenant.tenant_isolation == "database":
        return await TenantDatabases.open(control, tenants_dir)
    leftovers = sorted(tenants_dir.glob("*.db")) if tenants_dir.is_dir() else []
    if leftovers:
        raise ConfigError(
            f"multi_tenant.tenant_isolation = 'shared', but {tenants_dir} contains "
            f"{len(leftovers)} tenant databases written in 'database' mode (first: "
            f"{leftovers[0].name}); set tenant_isolation to 'database' to use them"
        )
    return await SqliteStore.open(control)
