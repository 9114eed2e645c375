"""Start-up setup: the keyring, the default tenant and the bootstrap superadmin."""

import logging
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ris.v1 import tenant_pb2
from ris_server import rbac
from ris_server.config import HubConfig
from ris_server.keyring import (
    KEY_SIZE,
    DataKeyRecord,
    Keyring,
    KeyringError,
    unwrap_data_key,
)
from ris_server.models import Tenant, User
from ris_server.passwords import hash_password
from ris_server.pki import write_private
from ris_server.secrets_store import (
    MasterKeyLock,
    create_master_key,
    pending_master_key_path,
    read_master_key,
    replace_master_key,
)
from ris_server.store import database_info
from ris_server.store.base import Repository

log = logging.getLogger(__name__)

ADMIN_ENV = "RIS_BOOTSTRAP_ADMIN"
PASSWORD_ENV = "RIS_BOOTSTRAP_PASSWORD"


async def ensure_default_tenant(store: Repository, config: HubConfig) -> Tenant:
    code = config.multi_tenant.default_tenant
    tenant = await store.get_tenant(code)
    if tenant is not None:
        return tenant
    now = time.time()
    tenant = Tenant(
        id=str(uuid.uuid4()),
        code=code,
        name="Default Tenant",
        status=tenant_pb2.TENANT_STATUS_ACTIVE,
        settings={"timezone": "UTC", "language": "en", "features": []},
        database_info=database_info(config.multi_tenant.tenant_isolation, code),
        created_at=now,
        updated_at=now,
    )
    await store.create_tenant(tenant)
    log.info("created tenant %s", code)
    return tenant


async def ensure_superadmin(store: Repository, tenant: Tenant) -> None:
    """Create the first user when the store has none.

    The password comes from RIS_BOOTSTRAP_PASSWORD, or is generated and
    printed once on stdout; it is never logged.
    """
    if await store.count_users() > 0:
        return
    username = os.environ.get(ADMIN_ENV) or "admin"
    password = os.environ.get(PASSWORD_ENV)
    generated = not password
    if generated:
        password = secrets.token_urlsafe(18)
    await store.create_user(
        User(
            id=str(uuid.uuid4()),
            tenant_code=tenant.code,
            email=username,
            password_hash=hash_password(password),
            role=rbac.SUPERADMIN,
            created_at=time.time(),
        )
    )
    log.info("created bootstrap superadmin %s in tenant %s", username, tenant.code)
    if generated:
        print(
            f"\nBootstrap superadmin created: username {username!r}, tenant "
            f"{tenant.code!r}, password {password}\nIt is shown only this once; "
            f"set {PASSWORD_ENV} to choose it instead.\n",
            file=sys.stdout,
            flush=True,
        )


def master_key_path(config: HubConfig) -> Path:
    """Return security.encryption.data_at_rest.master_key_file, or DATA/master.key."""
    configured = config.security.encryption.data_at_rest.master_key_file
    return Path(configured) if configured else config.data_dir / "master.key"


def _opens(master_key: bytes, record: DataKeyRecord) -> bool:
    try:
        unwrap_data_key(master_key, record)
    except KeyringError:
        return False
    return True


async def _keyring_after_pending_rotation(
    store: Repository,
    path: Path,
    master_key: bytes,
    records: list[DataKeyRecord],
    **options,
) -> Keyring:
    """Build the keyring, finishing or dropping a rotation that was interrupted.

    A master key rotation writes the new key next to the old one, rewraps the
    data keys, then moves the new key over the old file. When every data key
    still opens with the old key, the rewrap never committed and the pending
    file is removed. Otherwise the pending key is moved into place. With a
    database per tenant each database commits its rewrap on its own, so keys
    that still open only with the old key are rewrapped and stored first.
    """
    pending = pending_master_key_path(path)
    if not pending.exists():
        return Keyring(master_key, records, **options)
    under_old = [record for record in records if _opens(master_key, record)]
    if len(under_old) == len(records):
        keyring = Keyring(master_key, records, **options)
        pending.unlink()
        log.warning("removed %s left by an interrupted master key rotation", pending)
        return keyring
    new_key = read_master_key(pending)
    if under_old:
        # Raises, naming the key, when a key opens with neither master key.
        Keyring(new_key, [r for r in records if r not in under_old])
        rewrapped = {
            r.key_id: r for r in Keyring(master_key, under_old).rewrap(new_key)
        }
        records = [rewrapped.get(r.key_id, r) for r in records]
        await store.replace_wrapped_keys(records)
        log.warning(
            "rewrapped %d data keys that an interrupted master key rotation "
            "left under the old key",
            len(under_old),
        )
    keyring = Keyring(new_key, records, **options)
    replace_master_key(path)
    log.warning("finished an interrupted master key rotation of %s", path)
    return keyring


async def open_keyring(
    store: Repository, config: HubConfig, *, clock: Callable[[], float] = time.time
) -> tuple[Keyring, MasterKeyLock]:
    """Load the master key and the stored data keys, and hand them to the store.

    DATA/master.key is created on first start while the store has no data
    key; a configured master_key_file must exist. The returned lock is held
    shared for as long as the hub runs.
    """
    settings = config.security.encryption.data_at_rest
    path = master_key_path(config)
    records = await store.list_data_keys()
    if not path.exists() and not settings.master_key_file and not records:
        if not pending_master_key_path(path).exists():
            create_master_key(path)
    master_key = read_master_key(path)
    lock = MasterKeyLock(path, exclusive=False)
    try:
        keyring = await _keyring_after_pending_rotation(
            store,
            path,
            master_key,
            records,
            rotation_days=settings.key_rotation_days,
            clock=clock,
        )
    except BaseException:
        lock.release()
        raise
    store.use_keyring(keyring, encrypt=settings.enabled)
    log.info(
        "encryption at rest is %s; %d data keys loaded",
        "on" if settings.enabled else "off",
        len(records),
    )
    return keyring, lock


async def rotate_master_key(store: Repository, config: HubConfig) -> int:
    """Rewrap every data key under a new random master key; return how many.

    Encrypted rows are not touched. Raises MasterKeyError while a hub locks
    the master key file.
    """
    path = master_key_path(config)
    read_master_key(path)
    lock = MasterKeyLock(path, exclusive=True)
    try:
        records = await store.list_data_keys()
        keyring = await _keyring_after_pending_rotation(
            store, path, read_master_key(path), records
        )
        pending = pending_master_key_path(path)
        new_key = secrets.token_bytes(KEY_SIZE)
        write_private(pending, new_key)
        await store.replace_wrapped_keys(keyring.rewrap(new_key))
        replace_master_key(path)
    finally:
        lock.release()
    log.info("rotated master key %s; rewrapped %d data keys", path, len(records))
    return len(records)
