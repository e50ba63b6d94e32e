"""``delegraph demo`` end to end: Neo4j, the organisation, the scenario, serving.

Without NEO4J_URI the demo starts the local Neo4j of neo4j-local/ (and stops
it again on exit if it was not already running). It replaces the whole graph
with the demo organisation, so a Neo4j named by NEO4J_URI is only used when
the caller confirms that with ``replace_graph``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from delegraph.api import neo4j_local
from delegraph.api.app import create_app
from delegraph.api.auth import issue_token
from delegraph.api.demo import act_token
from delegraph.api.demo.org import LoadedOrganisation, load_organisation
from delegraph.api.demo.scenario import Scenario, Step
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine, EngineConfig
from rich.console import Console
from rich.table import Table

logger = logging.getLogger("delegraph.demo")

# The first check on a fresh server includes planning its query, which took
# 8 s on a 2-core machine with a load average near 12, past the API's 5 s default.
DEMO_QUERY_TIMEOUT = 60.0
CALLER_SUBJECT = "delegraph-demo"
CALLER_TOKEN_LIFETIME = 12 * 3600


class DemoError(Exception):
    """The demo cannot run with the given options or environment (exit code 2)."""


@dataclass(frozen=True)
class DemoOptions:
    serve: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    replace_graph: bool = False


@dataclass(frozen=True)
class Connection:
    """The Neo4j the demo uses, and the local server's details if it is that one."""

    uri: str
    user: str
    password: str
    database: str
    local: neo4j_local.LocalNeo4jConfig | None


@contextmanager
def neo4j_for_demo(
    settings: Settings, options: DemoOptions, console: Console
) -> Iterator[Connection]:
    """Yield the Neo4j to use, starting the local server when NEO4J_URI is unset."""
    if settings.neo4j_uri is not None:
        if not options.replace_graph:
            raise DemoError(
                f"NEO4J_URI is set ({settings.neo4j_uri}) and the demo deletes the whole "
                "graph there; pass --replace-graph to confirm, or unset NEO4J_URI to "
                "use the local server"
            )
        uri, user, password = settings.resolved_neo4j()
        yield Connection(uri, user, password, settings.neo4j_database, None)
        return

    local = neo4j_local.LocalNeo4jConfig.from_env()
    try:
        started, message = neo4j_local.start(local)
    except neo4j_local.LocalNeo4jError as error:
        raise DemoError(str(error)) from error
    console.print(message)
    try:
        yield Connection(
            local.bolt_uri,
            neo4j_local.USER,
            neo4j_local.read_password(local) or "",
            settings.neo4j_database,
            local,
        )
    finally:
        if started:
            _, message = neo4j_local.stop(local)
            console.print(message)


def prepare(engine: Engine, console: Console) -> LoadedOrganisation:
    """Apply the schema, then replace the graph with the demo organisation."""
    engine.store.apply_schema()
    loaded = load_organisation(engine)
    table = Table("section", "rows", title="demo organisation loaded")
    for section, count in loaded.result.counts.items():
        table.add_row(section, str(count))
    console.print(
        f"deleted {loaded.deleted_nodes} nodes of the previous graph", highlight=False
    )
    console.print(table)
    return loaded


def run_scenario(engine: Engine, console: Console) -> Scenario:
    """Load the organisation and run the narrated scenario on it."""
    prepare(engine, console)
    scenario = Scenario(engine, console)
    scenario.run()
    return scenario


def run_demo(options: DemoOptions, console: Console) -> list[Step]:
    """Run the whole demo; serve until Ctrl-C when ``options.serve`` is set."""
    settings = Settings()
    with neo4j_for_demo(settings, options, console) as connection:
        store = Store(
            connection.uri,
            (connection.user, connection.password),
            connection.database,
            DEMO_QUERY_TIMEOUT,
        )
        try:
            engine = Engine(store, EngineConfig(max_chain=settings.max_chain))
            scenario = run_scenario(engine, console)
        finally:
            store.close()
        if options.serve:
            serve(settings, connection, options, console, scenario)
    return scenario.steps


@dataclass(frozen=True)
class DemoApi:
    """The demo's REST API server, its base URL, an admin token and the scenario's JWT."""

    server: uvicorn.Server
    base_url: str
    token: str
    act_token: str | None


def build_api(
    settings: Settings, options: DemoOptions, scenario: Scenario | None = None
) -> DemoApi:
    """Build the API server on ``options.host:options.port`` and sign its token.

    With ``scenario``, introspection also accepts the tokens of the scenario's
    token service, unless introspection keys are configured already.
    """
    if _port_in_use(options.host, options.port):
        raise DemoError(
            f"port {options.port} on {options.host} is in use; pass --port to pick "
            "another"
        )
    # Without a configured secret, the demo signs caller tokens with one made up
    # for this run, so the token printed below works only until the demo stops.
    secret = settings.jwt_secret or secrets.token_hex(32)
    update: dict[str, str] = {"jwt_secret": secret}
    introspects_scenario = scenario is not None and not (
        settings.introspect_public_key or settings.introspect_jwks_file
    )
    if scenario is not None and introspects_scenario:
        update["introspect_public_key"] = scenario.signing_key.public_pem()
        update["introspect_issuer"] = act_token.ISSUER
        update["introspect_audience"] = act_token.AUDIENCE
    api_settings = settings.model_copy(update=update)
    app = create_app(api_settings)
    token = issue_token(
        secret,
        CALLER_SUBJECT,
        ["admin"],
        CALLER_TOKEN_LIFETIME,
        issuer=api_settings.jwt_issuer,
        audience=api_settings.jwt_audience,
    )
    config = uvicorn.Config(
        app, host=options.host, port=options.port, log_level="warning"
    )
    base_url = f"http://{options.host}:{options.port}"
    scenario_token = scenario.token if scenario and introspects_scenario else None
    return DemoApi(uvicorn.Server(config), base_url, token, scenario_token)


def serve(
    settings: Settings,
    connection: Connection,
    options: DemoOptions,
    console: Console,
    scenario: Scenario,
) -> None:
    """Serve the REST API on the demo graph and print where to look, until Ctrl-C."""
    api = build_api(settings, options, scenario)
    print_urls(api, connection, console)
    logger.info("demo serving api=%s neo4j=%s", api.base_url, connection.uri)
    # uvicorn (0.55) shuts down on Ctrl-C, then raises the captured SIGINT
    # again; the demo has nothing left to do but stop what it started.
    with contextlib.suppress(KeyboardInterrupt):
        api.server.run()
    console.print("stopped serving")


def print_urls(api: DemoApi, connection: Connection, console: Console) -> None:
    """Print the API docs, Neo4j Browser and its login, and the caller token."""
    console.print()
    console.rule("[bold]serving")
    console.print(f"API docs:      {api.base_url}/docs", highlight=False)
    if connection.local is not None:
        console.print(f"Neo4j Browser: {connection.local.browser_url}", highlight=False)
        console.print(
            f"  connect to {connection.uri} as user {connection.user}, password in "
            f"{connection.local.password_file}",
            highlight=False,
        )
    else:
        console.print(f"Neo4j:         {connection.uri} (user {connection.user})")
    console.print(
        "  saved queries and style sheet: cypher/browser/ (see docs/browser.md)"
    )
    console.print(
        f"caller token (admin role, valid {CALLER_TOKEN_LIFETIME // 3600} h), then "
        "a check with it:",
        highlight=False,
    )
    body = (
        '{"subject": "agent:code-reviewer", "action": "read", '
        '"resource": "repo:web-app"}'
    )
    for line in (
        f"  export TOKEN={api.token}",
        f'  curl -s {api.base_url}/v1/check -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d '{body}'",
    ):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if api.act_token is not None:
        console.print("introspect the scenario's RFC 8693 token (now inactive):")
        console.print(
            f'  curl -s {api.base_url}/v1/tokens/introspect -H "Authorization: '
            f'Bearer $TOKEN" -d token={api.act_token}',
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    console.print("serving; press Ctrl-C to stop.")


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
