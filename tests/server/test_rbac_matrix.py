"""Every RPC of the contract against every role, own tenant and another.

The RPC list comes from the generated descriptors, so an RPC added to the
contract without an RBAC entry fails here.
"""

import importlib
import pkgutil

import grpc
import pytest
from google.protobuf import symbol_database

import ris.v1
from ris.v1 import client_pb2, task_pb2, tenant_pb2
from ris_server import rbac
from tests.server.test_api import add_user
from tests.support import Api

# Every generated message module of the package, so a new .proto file's
# services are covered without editing this list.
FILES = [
    importlib.import_module(f"ris.v1.{info.name}")
    for info in pkgutil.iter_modules(ris.v1.__path__)
    if info.name.endswith("_pb2")
]
ROLES = {
    "readonly": rbac.READONLY,
    "operator": rbac.OPERATOR,
    "admin": rbac.ADMIN,
    "superadmin": rbac.SUPERADMIN,
}


def contract_methods():
    for module in FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield f"/{service.full_name}/{method.name}", method


def test_every_rpc_has_an_rbac_entry():
    methods = {name for name, _ in contract_methods()}
    assert methods == set(rbac.MINIMUM_ROLE)


GUARDED = [
    (name, method)
    for name, method in contract_methods()
    if rbac.MINIMUM_ROLE[name] != rbac.PUBLIC
]


@pytest.fixture
async def role_apis(api, hub_server):
    """One logged-in Api per role, all in the default tenant."""
    apis = {}
    for role_name, role in ROLES.items():
        email = f"{role_name}@default"
        await add_user(hub_server, "default", email, role)
        user_api = Api(api.channel)
        await user_api.login(email, f"pw-{email}")
        apis[role_name] = user_api
    return apis


def empty_request(method):
    message_class = symbol_database.Default().GetSymbol(method.input_type.full_name)
    return message_class()


async def call_code(user_api: Api, name: str, request) -> grpc.StatusCode:
    """Call an RPC by name and return the status code it ended with."""
    call = user_api.channel.unary_unary(
        name,
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=lambda data: data,
    )
    try:
        await call(request, metadata=user_api.metadata, timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_role_matrix(role_apis):
    mismatches = []
    for name, method in GUARDED:
        required = rbac.MINIMUM_ROLE[name]
        for role_name, role in ROLES.items():
            code = await call_code(role_apis[role_name], name, empty_request(method))
            denied = code == grpc.StatusCode.PERMISSION_DENIED
            # An empty request may be invalid or name nothing; only the
            # access decision counts here.
            if role < required and not denied:
                mismatches.append((name, role_name, "allowed", code.name))
            if role >= required and (denied or code == grpc.StatusCode.UNAUTHENTICATED):
                mismatches.append((name, role_name, "denied", code.name))
    assert mismatches == []


TENANT_FIELD_METHODS = [
    (name, method)
    for name, method in GUARDED
    if "tenant_code" in method.input_type.fields_by_name
]


async def test_naming_other_tenant_needs_superadmin(role_apis, api):
    assert TENANT_FIELD_METHODS, "no RPC takes a tenant_code"
    other = (
        await api.tenants.CreateTenant(
            tenant_pb2.CreateTenantRequest(code="other", name="Other"),
            metadata=api.metadata,
        )
    ).tenant
    mismatches = []
    for name, method in TENANT_FIELD_METHODS:
        for role_name, role in ROLES.items():
            if role < rbac.MINIMUM_ROLE[name]:
                continue
            request = empty_request(method)
            request.tenant_code = other.code
            code = await call_code(role_apis[role_name], name, request)
            denied = code == grpc.StatusCode.PERMISSION_DENIED
            if denied != (role < rbac.SUPERADMIN):
                mismatches.append((name, role_name, code.name))
    assert mismatches == []


async def test_other_tenant_client_not_found(role_apis, api, hub_server):
    await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(code="far", name="Far"), metadata=api.metadata
    )
    await add_user(hub_server, "far", "admin@far", rbac.ADMIN)
    far = Api(api.channel)
    await far.login("admin@far", "pw-admin@far", "far")
    client = (
        await far.clients.AddClient(
            client_pb2.AddClientRequest(name="far-client"), metadata=far.metadata
        )
    ).client
    reads = [
        lambda a: a.clients.GetClient(
            client_pb2.GetClientRequest(id=client.id), metadata=a.metadata
        ),
        lambda a: a.tasks.ListTasks(
            task_pb2.ListTasksRequest(client_id=client.unique_client_id),
            metadata=a.metadata,
        ),
    ]
    for role_name, user_api in role_apis.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await reads[0](user_api)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, role_name
        listing = await reads[1](user_api)
        assert list(listing.tasks) == [], role_name


MUTATING_VERBS = (
    "Add",
    "Update",
    "Delete",
    "Create",
    "Execute",
    "Cancel",
    "Redrive",
    "Deploy",
    "Scale",
)


def test_rbac_policy_invariants():
    for name, _ in GUARDED:
        verb_and_noun = name.rpartition("/")[2]
        service = name.split("/")[1]
        required = rbac.MINIMUM_ROLE[name]
        if verb_and_noun.startswith(MUTATING_VERBS):
            assert required >= rbac.OPERATOR, f"{name} changes state"
        if service in ("ris.v1.ClientService", "ris.v1.TenantService") and (
            verb_and_noun.startswith(MUTATING_VERBS)
        ):
            assert required >= rbac.ADMIN, f"{name} manages clients or tenants"
        if verb_and_noun == "GetClientConfig":
            assert required >= rbac.ADMIN, "it issues a private key"
    for name in ("CreateTenant", "ListTenants"):
        assert rbac.MINIMUM_ROLE[f"/ris.v1.TenantService/{name}"] == rbac.SUPERADMIN
