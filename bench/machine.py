"""The machine and software of a run: CPU, memory, load, versions, Neo4j settings."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from delegraph.cypher.store import Store


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages (other processes share the cores)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _rust_extension_loaded() -> bool:
    """Return True if the driver's PackStream codec comes from neo4j-rust-ext."""
    # NOTE: a private flag of the driver (neo4j 5.28); False if it moves.
    try:
        from neo4j._codec.packstream import RUST_AVAILABLE
    except ImportError:
        return False
    return bool(RUST_AVAILABLE)


def neo4j_facts(store: Store) -> dict[str, Any]:
    """Return the server version and its memory settings, read from the server."""
    facts: dict[str, Any] = {}
    records, _, _ = store.driver.execute_query(
        "CALL dbms.components() YIELD name, versions, edition "
        "RETURN name, versions[0] AS version, edition",
        database_=store.database,
    )
    for record in records:
        facts["version"] = record["version"]
        facts["edition"] = record["edition"]
    records, _, _ = store.driver.execute_query(
        "SHOW SETTINGS YIELD name, value "
        "WHERE name IN ['server.memory.heap.max_size', 'server.memory.pagecache.size'] "
        "RETURN name, value",
        database_=store.database,
    )
    for record in records:
        facts[record["name"]] = record["value"]
    return facts


def describe(store: Store) -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "neo4j_driver": _version("neo4j"),
        "neo4j_rust_ext": _version("neo4j-rust-ext"),
        "rust_extension_loaded": _rust_extension_loaded(),
        "cel": _version("common-expression-language"),
        "neo4j": neo4j_facts(store),
        "load_average_at_start": load_average(),
    }
