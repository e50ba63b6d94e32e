"""HTTP measurements: the API under uvicorn on 127.0.0.1, with one and two workers.

The API runs as its own process (``uvicorn --factory
delegraph.api.app:create_app``) on the graph the engine bench just
measured, with a caller token from ``delegraph token --role check``.

The load generator is vegeta when it is installed (``make bench`` builds it
with Go into bench/.tools/, or DELEGRAPH_BENCH_VEGETA names a binary): a
compiled process that sends each request for a fixed time. Without it the
bench falls back to an httpx client in this process, which uses about as
much CPU per request as the API itself. Either way the generator shares the
cores with the API and Neo4j, so the numbers are a floor, not a ceiling.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
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
WORKERS = (1, 2)
# How long vegeta sends requests at each setting.
VEGETA_SECONDS = 5
TOOLS = Path(__file__).resolve().parent / ".tools"
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
        """Return the resident memory of the API: uvicorn and its worker processes."""
        parent = psutil.Process(self.process.pid)
        processes = [parent, *parent.children(recursive=True)]
        rss = sum(int(p.memory_info().rss) for p in processes)
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


def find_vegeta() -> str | None:
    """Return the vegeta binary to use, or None to fall back to httpx."""
    named = os.environ.get("DELEGRAPH_BENCH_VEGETA")
    if named:
        return named
    built = TOOLS / "vegeta"
    if built.is_file():
        return str(built)
    return shutil.which("vegeta")


def start_api(
    neo4j_uri: str,
    user: str,
    password: str,
    decision_log: str = DECISION_LOG,
    workers: int = 1,
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
        "--workers",
        str(workers),
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
) -> tuple[list[float], Counter[str], float]:
    """Post every body with ``concurrency`` workers; return latencies, statuses, seconds."""
    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    queue = iter(bodies)

    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=30.0
    ) as client:

        async def worker() -> None:
            for body in queue:
                started = time.perf_counter()
                response = await client.post(path, json=body)
                latencies.append((time.perf_counter() - started) * 1000.0)
                statuses[str(response.status_code)] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return latencies, statuses, seconds


def _vegeta(
    vegeta: str,
    server: ApiServer,
    path: str,
    bodies: Sequence[dict[str, Any]],
    concurrency: int,
) -> dict[str, Any]:
    """Send ``bodies`` in a loop for VEGETA_SECONDS with ``concurrency`` workers."""
    header = {
        "Authorization": [f"Bearer {server.token}"],
        "Content-Type": ["application/json"],
    }
    with tempfile.TemporaryDirectory() as folder:
        targets = Path(folder) / "targets.jsonl"
        with targets.open("w") as out:
            for body in bodies:
                encoded = base64.b64encode(json.dumps(body).encode()).decode()
                target = {
                    "method": "POST",
                    "url": server.url + path,
                    "header": header,
                    "body": encoded,
                }
                out.write(json.dumps(target) + "\n")
        attack = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [
                vegeta,
                "attack",
                "-format=json",
                f"-targets={targets}",
                "-rate=0",
                f"-workers={concurrency}",
                f"-max-workers={concurrency}",
                f"-duration={VEGETA_SECONDS}s",
                "-timeout=30s",
            ],
            check=True,
            capture_output=True,
        )
    report = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [vegeta, "report", "-type=json"],
        input=attack.stdout,
        check=True,
        capture_output=True,
    )
    summary = json.loads(report.stdout)
    latencies = summary["latencies"]
    requests = int(summary["requests"])
    ok = int(summary["status_codes"].get("200", 0))
    return {
        "requests": requests,
        "errors": requests - ok,
        "status_codes": dict(summary["status_codes"]),
        "seconds": round((summary["duration"] + summary["wait"]) / 1e9, 3),
        "requests_per_s": round(float(summary["throughput"]), 1),
        "latency": {
            "count": requests,
            "mean_ms": round(latencies["mean"] / 1e6, 3),
            "p50_ms": round(latencies["50th"] / 1e6, 3),
            "p95_ms": round(latencies["95th"] / 1e6, 3),
            "p99_ms": round(latencies["99th"] / 1e6, 3),
            "max_ms": round(latencies["max"] / 1e6, 3),
        },
    }


def _httpx(
    server: ApiServer,
    path: str,
    bodies: Sequence[dict[str, Any]],
    concurrency: int,
) -> dict[str, Any]:
    """Send each of ``bodies`` once with ``concurrency`` httpx clients."""
    latencies, statuses, seconds = asyncio.run(
        _drive(server, path, bodies, concurrency)
    )
    return {
        "requests": len(bodies),
        "errors": len(bodies) - statuses["200"],
        "status_codes": dict(statuses),
        "seconds": round(seconds, 3),
        "requests_per_s": round(len(bodies) / seconds, 1),
        "latency": summarise(latencies),
    }


def _load(
    vegeta: str | None,
    server: ApiServer,
    path: str,
    bodies: Sequence[dict[str, Any]],
    concurrency: int,
) -> dict[str, Any]:
    if vegeta is None:
        return _httpx(server, path, bodies, concurrency)
    return _vegeta(vegeta, server, path, bodies, concurrency)


def measure_single(
    server: ApiServer, probes: Sequence[Probe], vegeta: str | None
) -> list[dict[str, Any]]:
    """Measure POST /v1/check throughput and latency at each concurrency level."""
    bodies = [check_body(p) for p in probes]
    asyncio.run(_drive(server, "/v1/check", bodies[:50], 4))
    return [
        {
            "concurrency": concurrency,
            **_load(vegeta, server, "/v1/check", bodies, concurrency),
        }
        for concurrency in CONCURRENCY
    ]


def measure_authzen_batches(
    server: ApiServer,
    probes: Sequence[Probe],
    batch_size: int,
    concurrency: int,
    vegeta: str | None,
) -> dict[str, Any]:
    """Measure POST /access/v1/evaluations with ``batch_size`` evaluations per request."""
    items = [evaluation_body(p) for p in probes]
    bodies = [
        {"evaluations": items[start : start + batch_size]}
        for start in range(0, len(items) - batch_size + 1, batch_size)
    ]
    load = _load(vegeta, server, "/access/v1/evaluations", bodies, concurrency)
    return {
        "batch_size": batch_size,
        "concurrency": concurrency,
        "requests": load["requests"],
        "errors": load["errors"],
        "status_codes": load["status_codes"],
        "evaluations_per_s": round(load["requests_per_s"] * batch_size, 1),
        "latency": load["latency"],
    }


def measure_http(
    neo4j_uri: str,
    user: str,
    password: str,
    probes: Sequence[Probe],
    workers: Sequence[int] = WORKERS,
) -> dict[str, Any]:
    """Start the API with each worker count, measure it and stop it.

    Returns why HTTP was not measured when this checkout has no API.
    """
    if not api_available():
        return {"status": API_NOT_MERGED}
    vegeta = find_vegeta()
    single: list[dict[str, Any]] = []
    batches: list[dict[str, Any]] = []
    memory: dict[str, Any] = {}
    for count in workers:
        server = start_api(neo4j_uri, user, password, DECISION_LOG, workers=count)
        try:
            idle = server.rss_mib()
            for level in measure_single(server, probes, vegeta):
                single.append({"workers": count, **level})
            for concurrency in (4, 16):
                batch = measure_authzen_batches(
                    server, probes, 100, concurrency, vegeta
                )
                batches.append({"workers": count, **batch})
            memory[str(count)] = {
                "rss_mib_idle": idle,
                "rss_mib_after": server.rss_mib(),
            }
        finally:
            server.stop()
    return {
        "status": "measured",
        "decision_log": DECISION_LOG,
        "load_generator": "httpx" if vegeta is None else "vegeta",
        "single": single,
        "authzen_batches": batches,
        "memory": memory,
    }
