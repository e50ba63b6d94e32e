"""Consoles, the engine connection and error handling shared by the CLI commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store, StoreError
from delegraph.engine.errors import DelegraphError
from delegraph.engine.service import Engine, EngineConfig
from rich.console import Console

console = Console()
errors = Console(stderr=True)

# Exit codes of every command; ``check`` also exits DENIED on a deny.
OK = 0
DENIED = 1
ERROR = 2

# One-shot commands wait longer than the API's per-query timeout, because the
# first run of a query on a fresh server includes planning it (8 s for the
# check query on a 2-core machine with a load average near 12).
DEFAULT_TIMEOUT = 60.0

JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
TimeoutOption = typer.Option(
    DEFAULT_TIMEOUT, "--timeout", min=0.1, help="Neo4j query timeout in seconds."
)


def fail(message: str, code: int = ERROR) -> NoReturn:
    errors.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout, with no rich markup or wrapping."""
    typer.echo(json.dumps(data, indent=2, default=str))


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn engine and store errors into one line on stderr and exit 2."""
    try:
        yield
    except DelegraphError as error:
        fail(str(error))
    except StoreError as error:
        fail(f"Neo4j failed: {error}")


@contextmanager
def open_engine(timeout: float = DEFAULT_TIMEOUT) -> Iterator[Engine]:
    """Connect to the Neo4j of the environment (NEO4J_URI or the local server).

    Decisions are recorded in the decision log that DELEGRAPH_DECISION_LOG names.
    """
    settings = Settings()
    uri, user, password = settings.resolved_neo4j()
    store = Store(uri, (user, password), settings.neo4j_database, timeout)
    decision_log = None
    try:
        with reported_errors():
            try:
                store.ping()
            except StoreError as error:
                if settings.neo4j_uri is None:
                    fail(
                        f"Neo4j at {uri} does not answer ({error}); start the local "
                        "server with `delegraph neo4j start` or set NEO4J_URI"
                    )
                raise
            decision_log = settings.open_decision_log(store)
        yield Engine(
            store,
            EngineConfig(max_chain=settings.max_chain),
            on_decision=None if decision_log is None else decision_log.record,
            decision_file=settings.decision_file(),
        )
    finally:
        # The CLI records decisions in the same log as the API. close() writes
        # what is queued before the store closes.
        if decision_log is not None:
            decision_log.close()
        store.close()
