"""Connection to the hub: the mTLS agent stream, heartbeats and reconnects.

One stream goes through these steps: send a Registration, wait for the
RegistrationAck, resend the outbox, then exchange messages until the stream ends.
Any end of a stream (error, end of stream from the hub, Drain, silence) leads to
a reconnect unless the reconnect policy's attempts are used up.
"""

import asyncio
import logging
import time

import grpc

from ris.v1 import agent_pb2, agent_pb2_grpc
from ris_agent.backoff import Backoff
from ris_agent.host import ResourceProbe
from ris_agent.runner import TaskRunner
from ris_agent.state import DataDir

logger = logging.getLogger(__name__)

CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)
REGISTRATION_TIMEOUT_SECONDS = 30.0
# Without connection_timeout from the hub, the agent drops a stream on which
# nothing arrived for this many heartbeat intervals.
_SILENT_HEARTBEATS = 3
_REJECTED_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class ReconnectLimitReached(Exception):
    """The reconnect policy's max_attempts were used up."""


class StreamEnded(Exception):
    """The hub ended the stream, broke the protocol or stopped sending messages."""


def load_channel_credentials(data_dir: DataDir) -> grpc.ChannelCredentials:
    """Build mTLS credentials from the data directory's key and certificates.

    Read on every connect, so replaced certificate files take effect at the next
    reconnect. Raises OSError when a file cannot be read.
    """
    return grpc.ssl_channel_credentials(
        root_certificates=data_dir.ca_certificate_path.read_bytes(),
        private_key=data_dir.key_path.read_bytes(),
        certificate_chain=data_dir.certificate_path.read_bytes(),
    )


def _describe_rpc_error(error: grpc.aio.AioRpcError) -> str:
    return f"{error.code().name}: {error.details()}"


class HubConnection:
    """Keeps one agent stream to the hub open and feeds it to the task runner."""

    def __init__(
        self,
        *,
        endpoint: str,
        data_dir: DataDir,
        runner: TaskRunner,
        registration: agent_pb2.Registration,
        heartbeat_interval: float,
        backoff: Backoff,
        resource_probe: ResourceProbe,
    ):
        """``registration`` is sent on every stream with the running tasks added.

        ``heartbeat_interval`` is in seconds and applies until a RegistrationAck
        gives another one.
        """
        self._endpoint = endpoint
        self._data_dir = data_dir
        self._runner = runner
        self._registration = registration
        self._heartbeat_interval = heartbeat_interval
        self._backoff = backoff
        self._probe = resource_probe
        self._sequence = 0
        self._last_received = time.monotonic()
        self._reconnect = asyncio.Event()
        self._reconnect_reason = ""

    def request_reconnect(self, reason: str) -> None:
        """End the current stream and open a new one at once, for example with a
        renewed certificate. Running tasks go on; their results are resent from
        the outbox after the new registration."""
        self._reconnect_reason = reason
        self._reconnect.set()

    async def run(self) -> None:
        """Connect and reconnect until cancelled.

        Raises ReconnectLimitReached when max_attempts reconnect attempts since the
        last registration failed.
        """
        logger.info("connecting to hub agent endpoint %s", self._endpoint)
        while True:
            drain_delay, reason, rejected = await self._run_session_logged()
            if drain_delay is not None:
                logger.info(
                    "reconnecting to %s in %.1f s: %s",
                    self._endpoint,
                    drain_delay,
                    reason,
                )
                await asyncio.sleep(drain_delay)
                continue

            if self._backoff.exhausted():
                logger.error(
                    "giving up after %d reconnect attempts to %s; last error: %s",
                    self._backoff.attempts,
                    self._endpoint,
                    reason,
                )
                raise ReconnectLimitReached(reason)
            delay = self._backoff.next_delay()
            logger.log(
                logging.ERROR if rejected else logging.WARNING,
                "stream to %s ended: %s; reconnect attempt %d in %.2f s",
                self._endpoint,
                reason,
                self._backoff.attempts,
                delay,
            )
            await asyncio.sleep(delay)

    async def _run_session_logged(self) -> tuple[float | None, str, bool]:
        """Run one stream; return (drain delay or None, end reason, rejected)."""
        try:
            delay = await self._run_session()
            reason = self._reconnect_reason or "the hub drained the stream"
            self._reconnect_reason = ""
            return delay, reason, False
        except grpc.aio.AioRpcError as error:
            if error.code() in _REJECTED_CODES:
                logger.error(
                    "the hub rejected this agent (%s); an administrator may need to "
                    "reactivate the client or enroll it again",
                    _describe_rpc_error(error),
                )
                return None, _describe_rpc_error(error), True
            return None, _describe_rpc_error(error), False
        except StreamEnded as error:
            return None, str(error), False
        except TimeoutError:
            return None, "no registration acknowledgement in time", False
        except OSError as error:
            logger.error("cannot read the agent's key or certificates: %s", error)
            return None, f"cannot read credentials: {error}", False
        except Exception as error:  # the loop must outlive any bug in one stream
            logger.exception("unexpected error on the stream to %s", self._endpoint)
            return None, repr(error), False

    async def _run_session(self) -> float:
        """Run one stream until it ends; return the Drain delay in seconds.

        Raises grpc.aio.AioRpcError, StreamEnded, TimeoutError or OSError.
        """
        # Cleared before the files are read: a renewal installed after this
        # point still ends the stream it did not use.
        self._reconnect.clear()
        credentials = load_channel_credentials(self._data_dir)
        async with grpc.aio.secure_channel(
            self._endpoint, credentials, options=CHANNEL_OPTIONS
        ) as channel:
            call = agent_pb2_grpc.AgentServiceStub(channel).Connect()
            try:
                ack = await self._register(call)
                return await self._serve(call, ack)
            finally:
                call.cancel()

    async def _register(self, call) -> agent_pb2.RegistrationAck:
        registration = agent_pb2.Registration()
        registration.CopyFrom(self._registration)
        registration.running.extend(self._runner.running_tasks())
        await call.write(agent_pb2.ConnectRequest(registration=registration))

        response = await asyncio.wait_for(call.read(), REGISTRATION_TIMEOUT_SECONDS)
        if response is grpc.aio.EOF:
            raise StreamEnded("the hub closed the stream before acknowledging")
        kind = response.WhichOneof("message")
        if kind != "registration_ack":
            raise StreamEnded(f"the hub sent {kind} before the registration ack")

        ack = response.registration_ack
        self._backoff.reset()
        logger.info(
            "registered with %s as client %s of tenant %s (session %s, certificate "
            "%s, %d running)",
            self._endpoint,
            ack.unique_client_id,
            ack.tenant_code,
            ack.session_id,
            ack.certificate_serial or "-",
            len(registration.running),
        )
        return ack

    async def _serve(self, call, ack: agent_pb2.RegistrationAck) -> float:
        interval = float(ack.heartbeat_interval or self._heartbeat_interval)
        silence_limit = float(ack.connection_timeout)
        if silence_limit <= interval:
            silence_limit = _SILENT_HEARTBEATS * interval
        self._last_received = time.monotonic()

        outgoing: asyncio.Queue[agent_pb2.ConnectRequest] = asyncio.Queue()
        loops = [
            asyncio.create_task(self._write_loop(call, outgoing)),
            asyncio.create_task(self._read_loop(call)),
            asyncio.create_task(
                self._heartbeat_loop(outgoing, interval, silence_limit)
            ),
            asyncio.create_task(self._reconnect_wait()),
        ]
        self._runner.set_sender(outgoing.put_nowait)
        try:
            await self._runner.resend_outbox()
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            return done.pop().result()
        finally:
            self._runner.set_sender(None)
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    async def _reconnect_wait(self) -> float:
        """Return 0 (reconnect at once) when a reconnect is requested."""
        await self._reconnect.wait()
        return 0.0

    async def _write_loop(self, call, outgoing: asyncio.Queue) -> float:
        while True:
            await call.write(await outgoing.get())

    async def _read_loop(self, call) -> float:
        """Dispatch hub messages; return the Drain delay when the hub drains."""
        while True:
            response = await call.read()
            if response is grpc.aio.EOF:
                raise StreamEnded("the hub closed the stream")
            self._last_received = time.monotonic()
            kind = response.WhichOneof("message")
            if kind == "assignment":
                self._runner.handle_assignment(response.assignment)
            elif kind == "cancellation":
                self._runner.handle_cancellation(response.cancellation)
            elif kind == "result_ack":
                self._runner.handle_result_ack(response.result_ack)
            elif kind == "heartbeat_ack":
                logger.debug(
                    "heartbeat %d acknowledged", response.heartbeat_ack.sequence
                )
            elif kind == "drain":
                drain = response.drain
                logger.info("the hub is draining this stream: %s", drain.reason or "-")
                return float(max(drain.reconnect_after, 0))
            else:
                logger.warning("ignoring unexpected %s message from the hub", kind)

    async def _heartbeat_loop(
        self, outgoing: asyncio.Queue, interval: float, silence_limit: float
    ) -> float:
        while True:
            await asyncio.sleep(interval)
            silence = time.monotonic() - self._last_received
            if silence > silence_limit:
                raise StreamEnded(f"no message from the hub for {silence:.0f} s")
            self._sequence += 1
            heartbeat = agent_pb2.Heartbeat(
                sequence=self._sequence,
                resource_usage=self._probe.sample(),
                running_tasks=self._runner.running_count,
            )
            outgoing.put_nowait(agent_pb2.ConnectRequest(heartbeat=heartbeat))
