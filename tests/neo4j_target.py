"""Choose the Neo4j that the tests run against.

Order: ``NEO4J_URI`` if set; else a testcontainers ``neo4j:5.26`` if a Docker
engine answers; else the local server of ``neo4j-local/``, started here. There
is no mock: if none of the three works the session fails with what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

Source = Literal["env", "docker", "local"]


@dataclass(frozen=True)
class Target:
    """Which Neo4j to use, and why."""

    source: Source
    reason: str


def docker_engine_answers(timeout: float = 5.0) -> bool:
    """Return True if a Docker engine (not just the client) responds to ``docker info``."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def choose_target(
    env: Mapping[str, str] | None = None,
    docker_available: Callable[[], bool] = docker_engine_answers,
) -> Target:
    """Pick the Neo4j source in the documented order; Docker is probed only when needed."""
    env = os.environ if env is None else env
    if env.get("NEO4J_URI"):
        return Target("env", f"NEO4J_URI={env['NEO4J_URI']}")
    if env.get("DELEGRAPH_TEST_NO_DOCKER") != "1" and docker_available():
        return Target("docker", "a Docker engine answers: testcontainers neo4j:5.26")
    return Target(
        "local", "no NEO4J_URI and no Docker engine: local neo4j-local server"
    )
