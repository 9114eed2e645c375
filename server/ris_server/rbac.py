"""Access rules: the roles allowed to call each RPC.

Every RPC of the ris.v1 services has exactly one entry. PUBLIC methods need
no access token: they authenticate by other means (a password, a refresh
token, an enrollment token, a client certificate) or reveal nothing private.
"""

from ris.v1 import common_pb2

READONLY = common_pb2.ROLE_READONLY
OPERATOR = common_pb2.ROLE_OPERATOR
ADMIN = common_pb2.ROLE_ADMIN
SUPERADMIN = common_pb2.ROLE_SUPERADMIN
PUBLIC = 0

ROLE_NAMES = {
    "readonly": READONLY,
    "operator": OPERATOR,
    "admin": ADMIN,
    "superadmin": SUPERADMIN,
}

# Lowest role allowed for each RPC; every higher role is allowed too.
MINIMUM_ROLE: dict[str, int] = {
    "/ris.v1.AuthService/Login": PUBLIC,
    "/ris.v1.AuthService/Refresh": PUBLIC,
    "/ris.v1.AuthService/Logout": PUBLIC,
    "/ris.v1.AuthService/ChangePassword": READONLY,
    "/ris.v1.AgentService/Enroll": PUBLIC,
    "/ris.v1.AgentService/Connect": PUBLIC,
    "/ris.v1.AgentService/RenewCertificate": PUBLIC,
    "/ris.v1.SystemService/GetHealth": PUBLIC,
    "/ris.v1.TenantService/CreateTenant": SUPERADMIN,
    "/ris.v1.TenantService/ListTenants": SUPERADMIN,
    "/ris.v1.TenantService/GetTenantInfo": READONLY,
    "/ris.v1.TenantService/GetTenantConfig": ADMIN,
    "/ris.v1.UserService/ListUsers": ADMIN,
    "/ris.v1.UserService/GetUser": ADMIN,
    "/ris.v1.UserService/CreateUser": ADMIN,
    "/ris.v1.UserService/UpdateUser": ADMIN,
    "/ris.v1.UserService/DeleteUser": ADMIN,
    "/ris.v1.ClientService/ListClients": READONLY,
    "/ris.v1.ClientService/GetClient": READONLY,
    "/ris.v1.ClientService/AddClient": ADMIN,
    "/ris.v1.ClientService/UpdateClient": ADMIN,
    "/ris.v1.ClientService/DeleteClient": ADMIN,
    "/ris.v1.ClientService/GetClientConfig": ADMIN,
    "/ris.v1.ClientService/CreateEnrollmentToken": ADMIN,
    "/ris.v1.ClientService/ListClientCertificates": READONLY,
    "/ris.v1.ClientService/RevokeClientCertificates": ADMIN,
    "/ris.v1.TaskService/ExecuteTask": OPERATOR,
    "/ris.v1.TaskService/GetTask": READONLY,
    "/ris.v1.TaskService/ListTasks": READONLY,
    "/ris.v1.TaskService/CancelTask": OPERATOR,
    "/ris.v1.TaskService/ListDeadLetters": READONLY,
    "/ris.v1.TaskService/RedriveTask": OPERATOR,
    "/ris.v1.ServiceManagementService/DeployService": OPERATOR,
    "/ris.v1.ServiceManagementService/ScaleService": OPERATOR,
    "/ris.v1.ServiceManagementService/GetServiceStatus": READONLY,
}

# Infrastructure services from grpcio's own packages; they reveal nothing
# private.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def role_name(role: int) -> str:
    """Return the config name of a role, or its number when unknown."""
    for name, value in ROLE_NAMES.items():
        if value == role:
            return name
    return str(role)


def minimum_role(method: str) -> int | None:
    """Return the lowest role allowed to call `method`, or None if unknown."""
    if method.startswith(PUBLIC_PREFIXES):
        return PUBLIC
    return MINIMUM_ROLE.get(method)
