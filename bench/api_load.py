"""HTTP measurements: the API under uvicorn on 127.0.0.1, driven by an httpx load generator.

The API runs as its own process (``uvicorn --factory
delegraph.api.app:create_app``) on the graph the engine bench just
measured, with a caller token from ``delegraph token --role check``. The
load generator runs in this process on the same cores, so it competes with
the API and Neo4j for CPU: the numbers are a floor, not the API's ceiling.

"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.generate import Probe
from bench.measure import summarise

API_NOT_MERGED = "not measured: API not merged"
CONCURRENCY = (1, 4, 16, 64)
STARTUP_TIMEOUT = 60.0
# The API's default: every decision is written to Neo4j off the check path.
DECISION_LOG = "neo4j"


def api_available() -> bool:
    """Return True if this checkout has the FastAPI app (``delegraph.api.app``)."""
    try:
        return importlib.util.find_spec("delegraph.api.app") is not None
    except ModuleNotFoundError:
        return False


@dataclass
class ApiServer:
    """A uvicorn child process serving the API on a free loopback port."""

    process: subprocess.Popen[bytes]
    url: str
    token: str

    def rss_mib(self) -> float:
        rss = int(psutil.Process(self.process.pid).memory_info().rss)
        return round(rss / 2**20, 1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_api(
    neo4j_uri: str, user: str, password: str, decision_log: str = DECISION_LOG
) -> ApiServer:
    """Start the API on 127.0.0.1 and wait until /readyz returns 200."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "NEO4J_URI": neo4j_uri,
            "NEO4J_USER": user,
            "NEO4J_PASSWORD": password,
            "DELEGRAPH_JWT_SECRET": secrets.token_urlsafe(32),
            "DELEGRAPH_DECISION_LOG": decision_log,
            "DELEGRAPH_LOG_LEVEL": "WARNING",
        }
    )
    cli = str(Path(sys.executable).with_name("delegraph"))
    token = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [cli, "token", "--role", "check"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "delegraph.api.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, env=env)  # noqa: S603 (fixed argv, no shell)
    server = ApiServer(process, f"http://127.0.0.1:{port}", token)
    _wait_ready(server)
    return server


def _wait_ready(server: ApiServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the API exited with code {server.process.returncode}")
        try:
            if httpx.get(server.url + "/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(
        f"the API at {server.url} was not ready after {STARTUP_TIMEOUT} s"
    )


def check_body(probe: Probe) -> dict[str, Any]:
    request = probe.request
    return {
        "subject": str(request.subject),
        "action": request.action,
        "resource": str(request.resource),
        "context": request.context,
    }


def evaluation_body(probe: Probe) -> dict[str, Any]:
    request = probe.request
    return {
        "subject": {"type": request.subject.kind, "id": request.subject.id},
        "action": {"name": request.action},
        "resource": {"type": request.resource.kind, "id": request.resource.id},
        "context": request.context,
    }


async def _drive(
    server: ApiServer, path: str, bodies: Sequence[dict[str, Any]], concurrency: int
) -> tuple[list[float], int, float]:
    """Post every body with ``concurrency`` workers; return latencies, errors, seconds."""
    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    latencies: list[float] = []
    errors = 0
    queue = iter(bodies)

    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=30.0
    ) as client:

        async def worker() -> None:
            nonlocal errors
            for body in queue:
                started = time.perf_counter()
                response = await client.post(path, json=body)
                latencies.append((time.perf_counter() - started) * 1000.0)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return latencies, errors, seconds


def measure_single(server: ApiServer, probes: Sequence[Probe]) -> list[dict[str, Any]]:
    """Measure POST /v1/check throughput and latency at each concurrency level."""
    bodies = [check_body(p) for p in probes]
    asyncio.run(_drive(server, "/v1/check", bodies[:50], 4))
    levels = []
    for concurrency in CONCURRENCY:
        latencies, errors, seconds = asyncio.run(
            _drive(server, "/v1/check", bodies, concurrency)
        )
        levels.append(
            {
                "concurrency": concurrency,
                "requests": len(bodies),
                "errors": errors,
                "seconds": round(seconds, 3),
                "requests_per_s": round(len(bodies) / seconds, 1),
                "latency": summarise(latencies),
            }
        )
    return levels


def measure_authzen_batches(
    server: ApiServer, probes: Sequence[Probe], batch_size: int, concurrency: int
) -> dict[str, Any]:
    """Measure POST /access/v1/evaluations with ``batch_size`` evaluations per request."""
    items = [evaluation_body(p) for p in probes]
    bodies = [
        {"evaluations": items[start : start + batch_size]}
        for start in range(0, len(items) - batch_size + 1, batch_size)
    ]
    latencies, errors, seconds = asyncio.run(
        _drive(server, "/access/v1/evaluations", bodies, concurrency)
    )
    evaluations = len(bodies) * batch_size
    return {
        "batch_size": batch_size,
        "concurrency": concurrency,
        "requests": len(bodies),
        "errors": errors,
        "evaluations_per_s": round(evaluations / seconds, 1),
        "latency": summarise(latencies),
    }


def measure_http(
    neo4j_uri: str, user: str, password: str, probes: Sequence[Probe]
) -> dict[str, Any]:
    """Start the API, measure it and stop it, or return why HTTP was not measured."""
    if not api_available():
        return {"status": API_NOT_MERGED}
    server = start_api(neo4j_uri, user, password, DECISION_LOG)
    try:
        idle = server.rss_mib()
        single = measure_single(server, probes)
        batches = [measure_authzen_batches(server, probes, 100, 4)]
        after = server.rss_mib()
    finally:
        server.stop()
    return {
        "status": "measured",
        "decision_log": DECISION_LOG,
        "single": single,
        "authzen_batches": batches,
        "memory": {"rss_mib_idle": idle, "rss_mib_after": after},
    }
