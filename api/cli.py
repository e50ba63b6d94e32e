"""The ``delegraph`` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from delegraph.api import cli_decisions, cli_graph, cli_lookups, cli_trace, neo4j_local
from delegraph.api.cli_common import console, errors

app = typer.Typer(
    no_args_is_help=True, help="delegraph: a policy decision point for AI agents."
)
neo4j_app = typer.Typer(
    no_args_is_help=True, help="Run a local Neo4j server (no Docker needed)."
)
app.add_typer(neo4j_app, name="neo4j")

app.command("demo")(cli_graph.demo)
app.command("import")(cli_graph.import_file)
app.command("export")(cli_graph.export)
app.command("check")(cli_decisions.check)
app.command("explain")(cli_decisions.explain)
app.command("revoke")(cli_decisions.revoke)
app.command("trace")(cli_lookups.trace)
app.command("decisions")(cli_trace.decisions)
app.command("reach")(cli_lookups.reach)
app.command(
    "bench",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(cli_graph.bench)


def _local_config() -> neo4j_local.LocalNeo4jConfig:
    try:
        return neo4j_local.LocalNeo4jConfig.from_env()
    except neo4j_local.LocalNeo4jError as error:
        errors.print(f"error: {error}")
        raise typer.Exit(error.exit_code) from error


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start Neo4j on 127.0.0.1 (Bolt 7687, HTTP 7474) and wait until it answers."""
    config = _local_config()
    try:
        _, message = neo4j_local.start(config)
    except neo4j_local.LocalNeo4jError as error:
        errors.print(f"error: {error}")
        raise typer.Exit(error.exit_code) from error
    console.print(message)
    console.print(f"bolt URI:      {config.bolt_uri}")
    console.print(f"Neo4j Browser: {config.browser_url}")
    console.print(f"user neo4j, password in {config.password_file}")


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Stop the Neo4j server that ``delegraph neo4j start`` started."""
    _, message = neo4j_local.stop(_local_config())
    console.print(message)


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Print whether the local Neo4j server is running; exit 1 if it is not."""
    running, message = neo4j_local.status(_local_config())
    console.print(message)
    if not running:
        raise typer.Exit(1)


@app.command("serve")
def serve(
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="DELEGRAPH_WORKERS",
            help="API processes; each has its own Neo4j pool and decision log queue.",
        ),
    ] = 1,
) -> None:
    """Serve the REST API with uvicorn on DELEGRAPH_HOST:DELEGRAPH_PORT."""
    import uvicorn
    from delegraph.api.app import create_app
    from delegraph.api.auth import AuthConfigError
    from delegraph.api.settings import Settings

    settings = Settings()
    logging.getLogger("delegraph").setLevel(settings.log_level)
    try:
        api = create_app(settings)
    except AuthConfigError as error:
        errors.print(f"error: {error}")
        raise typer.Exit(2) from error
    console.print(f"API docs: http://{settings.host}:{settings.port}/docs")
    if workers == 1:
        uvicorn.run(api, host=settings.host, port=settings.port, log_level="info")
        return
    # Several processes need the app as an import path: each worker builds
    # its own from the same environment.
    uvicorn.run(
        "delegraph.api.app:create_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="info",
    )


@app.command("token")
def token(
    role: Annotated[
        list[str] | None,
        typer.Option(help="Role to grant: admin or check (repeatable)."),
    ] = None,
    subject: Annotated[
        str,
        typer.Option(help="The sub claim: a principal ref such as agent:x, or a name."),
    ] = "delegraph-cli",
    ttl: Annotated[int, typer.Option(help="Lifetime of the token in seconds.")] = 3600,
) -> None:
    """Print a caller token signed with DELEGRAPH_JWT_SECRET (for local use)."""
    from delegraph.api.auth import ROLES, issue_token
    from delegraph.api.settings import Settings

    roles = role or []
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        errors.print(f"error: unknown role {unknown[0]!r}; expected admin or check")
        raise typer.Exit(2)
    if ttl <= 0:
        errors.print(f"error: --ttl must be a positive number of seconds, got {ttl}")
        raise typer.Exit(2)
    settings = Settings()
    if not settings.jwt_secret:
        errors.print(
            "error: DELEGRAPH_JWT_SECRET is not set; the token command signs HS256 "
            "tokens with that secret"
        )
        raise typer.Exit(2)
    print(
        issue_token(
            settings.jwt_secret,
            subject,
            roles,
            ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    app()
