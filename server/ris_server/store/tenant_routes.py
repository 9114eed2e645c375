"""The database each Repository method runs on when every tenant has its own.

store/tenant_databases.py routes calls by this table. It must name exactly
the methods of the Repository protocol: TenantDatabases.open() raises
TypeError otherwise, so a method added to the protocol cannot silently run
on the wrong database.
"""

import enum

from ris_server.store.base import Repository


class Route(enum.Enum):
    """The database a Repository method runs on."""

    CONTROL = "the control database"
    TENANT = "the database of the tenant named by an argument"
    CLIENT = "the database of the tenant that owns the client uid"
    TASK = "the database of the tenant that owns the task id"
    ALL = "every database, with the results merged"


# Every method of the Repository protocol, with the database it runs on.
ROUTES: dict[str, Route] = {
    "close": Route.ALL,
    "ping": Route.ALL,
    "use_keyring": Route.ALL,
    "list_data_keys": Route.ALL,
    "save_data_key": Route.CONTROL,
    "replace_wrapped_keys": Route.ALL,
    "reencrypt": Route.ALL,
    "create_tenant": Route.CONTROL,
    "get_tenant": Route.CONTROL,
    "get_tenant_by_id": Route.CONTROL,
    "list_tenants": Route.CONTROL,
    "create_user": Route.CONTROL,
    "get_user": Route.CONTROL,
    "get_user_by_id": Route.CONTROL,
    "count_users": Route.CONTROL,
    "list_users": Route.CONTROL,
    "update_user": Route.CONTROL,
    "delete_user": Route.CONTROL,
    "revoke_user_refresh_tokens": Route.CONTROL,
    "count_active_users": Route.CONTROL,
    "save_refresh_token": Route.CONTROL,
    "use_refresh_token": Route.CONTROL,
    "revoke_refresh_family": Route.CONTROL,
    "upsert_directory_user": Route.CONTROL,
    "create_session": Route.CONTROL,
    "get_session": Route.CONTROL,
    "extend_session": Route.CONTROL,
    "revoke_session": Route.CONTROL,
    "revoke_user_sessions": Route.CONTROL,
    "revoked_sessions": Route.CONTROL,
    "create_client": Route.TENANT,
    "get_client": Route.TENANT,
    "get_client_by_uid": Route.TENANT,
    "list_clients": Route.TENANT,
    "count_clients": Route.TENANT,  # every tenant database without a tenant
    "last_heartbeat": Route.ALL,
    "update_client": Route.TENANT,
    "delete_client": Route.TENANT,
    "record_connection": Route.CLIENT,
    "record_heartbeat": Route.CLIENT,
    "mark_all_disconnected": Route.ALL,
    "save_enrollment_token": Route.CONTROL,
    "consume_enrollment_token": Route.CONTROL,
    "record_certificate": Route.CONTROL,
    "record_renewal": Route.CONTROL,
    "get_certificate": Route.CONTROL,
    "list_client_certificates": Route.CONTROL,
    "is_certificate_revoked": Route.CONTROL,
    "revoke_client_certificates": Route.CONTROL,
    "revoked_serials": Route.CONTROL,
    "mark_certificate_used": Route.CONTROL,
    "insert_task": Route.TENANT,
    "get_task": Route.TENANT,
    "get_task_any_tenant": Route.TASK,
    "list_tasks": Route.TENANT,
    "claim_tasks": Route.CLIENT,
    "running_tasks": Route.CLIENT,
    "finish_task": Route.TASK,
    "requeue_task": Route.TASK,
    "expired_queued_tasks": Route.ALL,
    "clients_with_queued_tasks": Route.ALL,
    "set_progress": Route.TASK,
    "request_cancel": Route.TENANT,
    "cancel_client_tasks": Route.CLIENT,
    "redrive_task": Route.TENANT,
    "expired_running_tasks": Route.ALL,
    "task_counts": Route.ALL,
    "count_active_tasks": Route.TENANT,  # every tenant database without a tenant
    "tenant_storage_bytes": Route.TENANT,
    "delete_finished_tasks": Route.ALL,
}


def protocol_methods(protocol: type = Repository) -> set[str]:
    """Return the method names of a repository protocol and its base protocols."""
    names = set()
    for cls in protocol.__mro__:
        if cls is object or cls.__module__ == "typing":
            continue
        names |= {
            name
            for name, value in vars(cls).items()
            if callable(value) and not name.startswith("_")
        }
    return names


def check_routes(protocol: type = Repository) -> None:
    """Raise TypeError unless ROUTES names exactly the methods of `protocol`."""
    differ = protocol_methods(protocol) ^ ROUTES.keys()
    if differ:
        raise TypeError(
            "store/tenant_routes.py ROUTES and the repository protocol differ "
            f"in {sorted(differ)}: give every protocol method a route"
        )
