"""Scripted AgentService for agent tests, served by a real grpc.aio server.

The double serves Enroll on a TLS port and Connect on an mTLS port, both on
127.0.0.1 with ports chosen by the kernel. Tests script a stream through its
HubSession: they read what the agent sent and queue what the hub sends.
"""

import asyncio
from dataclasses import dataclass, field

import grpc
from agent_pki import CertificateAuthority

from ris.v1 import agent_pb2, agent_pb2_grpc, common_pb2, task_pb2

# The agent pings every 10 s; a hub must allow that or it closes the connection.
SERVER_OPTIONS = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
)


@dataclass
class HubSession:
    """One agent stream, recorded on the hub side."""

    registration: agent_pb2.Registration
    peer_common_name: str
    received: list = field(default_factory=list)
    outgoing: asyncio.Queue = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, response: agent_pb2.ConnectResponse) -> None:
        self.outgoing.put_nowait(response)

    def assign(
        self, task_id: str, spec: task_pb2.TaskSpec, attempt: int = 1, timeout: int = 10
    ) -> None:
        assignment = agent_pb2.TaskAssignment(
            task_id=task_id, attempt=attempt, spec=spec, timeout=timeout
        )
        self.send(agent_pb2.ConnectResponse(assignment=assignment))

    def cancel(self, task_id: str, attempt: int = 1, reason: str = "test") -> None:
        cancellation = agent_pb2.TaskCancellation(
            task_id=task_id, attempt=attempt, reason=reason
        )
        self.send(agent_pb2.ConnectResponse(cancellation=cancellation))

    def drain(self, reconnect_after: int = 0) -> None:
        drain = agent_pb2.Drain(reason="test drain", reconnect_after=reconnect_after)
        self.send(agent_pb2.ConnectResponse(drain=drain))

    def drop(self) -> None:
        """End the stream with status OK, as a hub that goes away would."""
        self.outgoing.put_nowait(None)

    def messages(self, kind: str) -> list:
        return [
            getattr(request, kind)
            for request in self.received
            if request.WhichOneof("message") == kind
        ]

    def results(self, task_id: str | None = None) -> list[agent_pb2.ResultReport]:
        return [
            result
            for result in self.messages("result")
            if task_id is None or result.task_id == task_id
        ]


class HubDouble(agent_pb2_grpc.AgentServiceServicer):
    """AgentService that records requests and follows the test's script."""

    def __init__(self, ca: CertificateAuthority, tokens: set[str]):
        self.ca = ca
        self.tokens = set(tokens)
        self.agent_server_host = ""
        self.heartbeat_interval = 1
        self.connection_timeout = 0
        self.reconnect_policy = common_pb2.ReconnectPolicy(
            max_attempts=0, backoff_strategy="exponential", initial_delay=1, max_delay=2
        )
        self.ack_results = True
        self.ack_heartbeats = True
        self.reject_connect: grpc.StatusCode | None = None
        self.enroll_requests: list[agent_pb2.EnrollRequest] = []
        self.sessions: list[HubSession] = []
        self.rejected_connects = 0

    async def Enroll(self, request, context):
        self.enroll_requests.append(request)
        if request.token not in self.tokens:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "unknown, used or expired token"
            )
        self.tokens.discard(request.token)
        client_id = f"client-{len(self.enroll_requests)}"
        try:
            certificate = self.ca.sign_csr(request.csr_pem, client_id)
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad CSR: {error}")
        response = agent_pb2.EnrollResponse(
            certificate_pem=certificate.decode(),
            ca_certificate_pem=self.ca.certificate_pem.decode(),
            unique_client_id=client_id,
            tenant_code="acme",
            client_config=common_pb2.ClientConfig(
                server_host=self.agent_server_host,
                heartbeat_interval=self.heartbeat_interval,
                reconnect_policy=self.reconnect_policy,
            ),
        )
        response.expires_at.GetCurrentTime()
        response.expires_at.seconds += 86_400
        return response

    async def Connect(self, request_iterator, context):
        first = await context.read()
        if first is grpc.aio.EOF or first.WhichOneof("message") != "registration":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "expected registration"
            )
        if self.reject_connect is not None:
            self.rejected_connects += 1
            await context.abort(self.reject_connect, "client is inactive")

        names = context.auth_context().get("x509_common_name", [b""])
        session = HubSession(first.registration, names[0].decode())
        self.sessions.append(session)
        await context.write(
            agent_pb2.ConnectResponse(
                registration_ack=agent_pb2.RegistrationAck(
                    unique_client_id=session.peer_common_name,
                    tenant_code="acme",
                    heartbeat_interval=self.heartbeat_interval,
                    connection_timeout=self.connection_timeout,
                    session_id=f"session-{len(self.sessions)}",
                )
            )
        )
        reader = asyncio.create_task(self._read(context, session))
        try:
            await self._write(context, session, reader)
        finally:
            reader.cancel()
            session.ended.set()

    async def _write(self, context, session: HubSession, reader: asyncio.Task) -> None:
        while True:
            next_response = asyncio.create_task(session.outgoing.get())
            await asyncio.wait(
                {next_response, reader}, return_when=asyncio.FIRST_COMPLETED
            )
            if not next_response.done():
                next_response.cancel()
                return  # the agent closed its side
            response = next_response.result()
            if response is None:
                return
            await context.write(response)

    async def _read(self, context, session: HubSession) -> None:
        while True:
            request = await context.read()
            if request is grpc.aio.EOF:
                return
            session.received.append(request)
            kind = request.WhichOneof("message")
            if kind == "heartbeat" and self.ack_heartbeats:
                ack = agent_pb2.HeartbeatAck(sequence=request.heartbeat.sequence)
                session.send(agent_pb2.ConnectResponse(heartbeat_ack=ack))
            elif kind == "result" and self.ack_results:
                ack = agent_pb2.ResultAck(
                    task_id=request.result.task_id, attempt=request.result.attempt
                )
                session.send(agent_pb2.ConnectResponse(result_ack=ack))


@dataclass
class RunningHub:
    double: HubDouble
    server: grpc.aio.Server
    api_address: str
    agent_address: str

    @property
    def last_session(self) -> HubSession:
        return self.double.sessions[-1]


async def start_hub(ca: CertificateAuthority, tokens: set[str]) -> RunningHub:
    """Serve the double on two 127.0.0.1 ports: TLS for Enroll, mTLS for Connect."""
    double = HubDouble(ca, tokens)
    server = grpc.aio.server(options=SERVER_OPTIONS)
    agent_pb2_grpc.add_AgentServiceServicer_to_server(double, server)
    key_pair = [(ca.server_key_pem, ca.server_certificate_pem)]
    api_port = server.add_secure_port(
        "127.0.0.1:0", grpc.ssl_server_credentials(key_pair)
    )
    agent_port = server.add_secure_port(
        "127.0.0.1:0",
        grpc.ssl_server_credentials(
            key_pair, root_certificates=ca.certificate_pem, require_client_auth=True
        ),
    )
    double.agent_server_host = f"https://127.0.0.1:{agent_port}"
    await server.start()
    return RunningHub(
        double, server, f"127.0.0.1:{api_port}", f"127.0.0.1:{agent_port}"
    )
