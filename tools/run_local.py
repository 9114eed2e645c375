"""Start the hub on its embedded defaults with one enrolled local agent.

Everything lives in ./data: the hub's database, CA and secrets, and the
local agent's key and certificate in ./data/local-agent. On the first run
the bootstrap superadmin's password is generated and printed once, and kept
in ./data/local-admin-password (mode 0600) so later runs can enroll again.
Stop with Ctrl-C.
"""

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc

from ris.v1 import auth_pb2, auth_pb2_grpc, client_pb2, client_pb2_grpc

DATA = Path("data")
AGENT_DIR = DATA / "local-agent"
PASSWORD_FILE = DATA / "local-admin-password"
BIN = Path(sys.executable).parent
AGENT_NAME = "local-agent"
PASSWORD_ENV = "RIS_BOOTSTRAP_PASSWORD"


def admin_password() -> tuple[str, bool]:
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV], False
    if PASSWORD_FILE.exists():
        return PASSWORD_FILE.read_text().strip(), False
    return secrets.token_urlsafe(18), True


def wait_for_endpoints(server: subprocess.Popen, started: float) -> dict:
    path = DATA / "endpoints.json"
    while True:
        if server.poll() is not None:
            sys.exit(f"ris-server exited with code {server.returncode}")
        if path.exists() and path.stat().st_mtime >= started:
            return json.loads(path.read_text())
        time.sleep(0.1)


async def create_enrollment_token(endpoints: dict, password: str) -> dict:
    credentials = grpc.ssl_channel_credentials(Path(endpoints["ca_file"]).read_bytes())
    async with grpc.aio.secure_channel(endpoints["grpc"], credentials) as channel:
        login = await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=password)
        )
        metadata = (("authorization", f"Bearer {login.access_token}"),)
        clients = client_pb2_grpc.ClientServiceStub(channel)
        listing = await clients.ListClients(
            client_pb2.ListClientsRequest(per_page=1000), metadata=metadata
        )
        client = next((c for c in listing.clients if c.name == AGENT_NAME), None)
        if client is None:
            client = (
                await clients.AddClient(
                    client_pb2.AddClientRequest(
                        name=AGENT_NAME, host="localhost", description="local agent"
                    ),
                    metadata=metadata,
                )
            ).client
        token = await clients.CreateEnrollmentToken(
            client_pb2.CreateEnrollmentTokenRequest(id=client.id), metadata=metadata
        )
        return {"token": token.token, "unique_client_id": client.unique_client_id}


def main() -> int:
    DATA.mkdir(exist_ok=True, mode=0o700)
    password, generated = admin_password()
    env = dict(os.environ, **{PASSWORD_ENV: password})
    started = time.time()
    server = subprocess.Popen(
        [str(BIN / "ris-server"), "--data-dir", str(DATA)], env=env
    )
    processes = [server]
    try:
        endpoints = wait_for_endpoints(server, started)
        if generated:
            fd = os.open(PASSWORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
        if not (AGENT_DIR / "state.json").exists():
            enrollment = asyncio.run(create_enrollment_token(endpoints, password))
            subprocess.run(
                [
                    str(BIN / "ris-agent"),
                    "enroll",
                    "--hub",
                    endpoints["grpc"],
                    "--ca-file",
                    endpoints["ca_file"],
                    "--data-dir",
                    str(AGENT_DIR),
                    "--hostname",
                    "localhost",
                ],
                env={
                    **{k: v for k, v in os.environ.items() if k != PASSWORD_ENV},
                    "RIS_ENROLLMENT_TOKEN": enrollment["token"],
                },
                check=True,
            )
        # Tasks run in the agent's environment; the admin password stays out.
        agent_env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
        agent = subprocess.Popen(
            [str(BIN / "ris-agent"), "run", "--data-dir", str(AGENT_DIR)],
            env=agent_env,
        )
        processes.append(agent)
        state = json.loads((AGENT_DIR / "state.json").read_text())
        print(
            "\nRIS hub running.\n"
            f"  REST edge     {endpoints['edge']}  (CA: {endpoints['ca_file']})\n"
            f"  gRPC API      {endpoints['grpc']}\n"
            f"  agent port    {endpoints['agent']}\n"
            f"  metrics       {endpoints['metrics']}\n"
            f"  admin login   username 'admin', tenant 'default'"
            + (
                f", password {password}"
                if generated
                else (
                    f", password from {PASSWORD_ENV}"
                    if os.environ.get(PASSWORD_ENV)
                    else f", password in {PASSWORD_FILE}"
                )
            )
            + f"\n  local agent   client_id {state['unique_client_id']}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set() and all(p.poll() is None for p in processes):
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
