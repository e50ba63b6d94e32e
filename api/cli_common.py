"""Consoles, the engine connection and error handling shared by the CLI commands."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import httpx
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
    DEFAULT_TIMEOUT,
    "--timeout",
    min=0.1,
    help="Timeout in seconds of each Neo4j query, or of each HTTP request with --url.",
)
UrlOption = typer.Option(
    None,
    "--url",
    envvar="DELEGRAPH_URL",
    help="Base URL of a running delegraph API, e.g. http://127.0.0.1:8000. "
    "When set, the command calls the API instead of Neo4j.",
)
TokenOption = typer.Option(
    None,
    "--token",
    envvar="DELEGRAPH_TOKEN",
    help="Bearer token sent to the API that --url names.",
)


def fail(message: str, code: int = ERROR) -> NoReturn:
    errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
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


@dataclass(frozen=True)
class ApiClient:
    """A client of the delegraph REST API at ``url``, for the ``--url`` mode.

    On any failure ``call`` prints one line on stderr and exits 2. That line
    names the endpoint and never the token.
    """

    url: str
    token: str | None
    timeout: float

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | None] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """Send one request and return its JSON body, or exit 2 on any failure."""
        endpoint = self.url.rstrip("/") + path
        safe_endpoint = without_credentials(endpoint)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = httpx.request(
                method,
                endpoint,
                params=query,
                json=json_body,
                content=content,
                headers=headers,
                timeout=self.timeout,
            )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            fail(
                f"--url {without_credentials(self.url)!r} is not a valid API URL. "
                "Expected http://HOST:PORT or https://HOST:PORT."
            )
        except httpx.TimeoutException:
            fail(
                f"{method} {safe_endpoint} timed out after {self.timeout:g} s. "
                "Raise --timeout or check that the API is running."
            )
        except httpx.HTTPError as error:
            fail(f"could not reach the API at {safe_endpoint}: {error}")
        if not response.is_success:
            fail(http_error_line(method, safe_endpoint, response))
        try:
            return response.json()
        except ValueError:
            fail(
                f"{method} {safe_endpoint} returned HTTP {response.status_code} with a "
                f"body that is not JSON: {response.text[:200]!r}"
            )


def without_credentials(url: str) -> str:
    """Return ``url`` without a user name and password, for error lines."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def http_error_line(method: str, endpoint: str, response: httpx.Response) -> str:
    """Describe an error response in one line, from its RFC 9457 problem if any."""
    head = f"{method} {endpoint} returned HTTP {response.status_code}"
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        text = " ".join(response.text.split())[:200]
        return f"{head}: {text}" if text else head
    title = problem.get("title") or response.reason_phrase
    line = f"{head} {title}"
    if problem.get("detail"):
        line += f": {problem['detail']}"
    if problem.get("field") is not None:
        line += f" (field {problem['field']}, value {json.dumps(problem.get('value'))})"
    return " ".join(line.split())


def api_client(url: str | None, token: str | None, timeout: float) -> ApiClient | None:
    """Return a client when ``--url`` (or DELEGRAPH_URL) is set and not empty."""
    return ApiClient(url, token, timeout) if url else None


def path_segment(value: str) -> str:
    """Percent-encode ``value`` as one path segment: ``/``, ``?``, ``#`` and ``%``
    are encoded, while ``:`` and ``@`` stay readable, as RFC 3986 allows."""
    return quote(value, safe=":@")
