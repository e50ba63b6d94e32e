"""``delegraph decisions AGENT``: what an agent did, read from the decision log.

``render_trace`` draws a Trace in its ``as_dict`` form, which is also the
body of ``GET /v1/agents/{ref}/trace``. It shows each logged decision with
the chain that decided it and the holders on whose authority the agent
acted. It ends with the decisions that a check would deny now.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from delegraph.api.cli_common import (
    TimeoutOption,
    TokenOption,
    UrlOption,
    api_client,
    fail,
    path_segment,
)
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store, StoreError
from delegraph.engine.documents import parse_datetime
from delegraph.engine.errors import DelegraphError
from delegraph.engine.refs import ACTORS, parse_principal
from delegraph.engine.service import Engine, EngineConfig, utc_now
from delegraph.engine.trace import MAX_TRACE
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

ERROR_EXIT = 2
RELATIVE_TIME = re.compile(r"(\d+)([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Status of a trace entry -> how the tree shows it.
STATUS_LABELS = {
    "still_allowed": "[green]still allowed[/]",
    "denied_now": "[bold red]DENIED NOW[/]",
    "allowed_now": "[yellow]allowed now[/]",
    "still_denied": "still denied",
    "needs_context": "[yellow]needs context to re-check[/]",
}


def decisions(
    agent: Annotated[str, typer.Argument(help="Agent ref, e.g. agent:expense-bot.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Start of the window, inclusive: RFC 3339 with a timezone "
            "(2030-01-01T00:00:00Z) or an age such as 30m, 2h, 7d."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="End of the window, exclusive; same forms as --since."),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_TRACE, help="Maximum decisions shown, the newest ones."
        ),
    ] = MAX_TRACE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    timeout: float = TimeoutOption,
) -> None:
    """Show what an agent did, on whose authority, through which chain, and
    which of those decisions a check would deny now (reads the decision log that
    DELEGRAPH_DECISION_LOG names and the graph, or the API that --url names)."""
    errors = Console(stderr=True)
    try:
        ref = parse_principal(agent, "AGENT", ACTORS)
        now = utc_now()
        window = (cli_time(since, "--since", now), cli_time(until, "--until", now))
        api = api_client(url, token, timeout)
        if api is None:
            result = _read_trace(ref, window, limit, timeout)
        else:
            result = api.call(
                "GET",
                f"/v1/agents/{path_segment(str(ref))}/trace",
                params={
                    "since": None if window[0] is None else window[0].isoformat(),
                    "until": None if window[1] is None else window[1].isoformat(),
                    "limit": limit,
                },
            )
            if not isinstance(result, dict) or "decisions" not in result:
                fail(f"GET /v1/agents/{{ref}}/trace returned no trace: {result!r:.200}")
    except DelegraphError as error:
        errors.print(f"error: {error.message}", markup=False, highlight=False)
        raise typer.Exit(ERROR_EXIT) from error
    except StoreError as error:
        errors.print(f"error: Neo4j failed: {error}", markup=False, highlight=False)
        raise typer.Exit(ERROR_EXIT) from error

    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        render_trace(result, Console())


def _read_trace(
    ref: Any,
    window: tuple[datetime | None, datetime | None],
    limit: int,
    timeout: float,
) -> dict[str, Any]:
    settings = Settings()
    uri, user, password = settings.resolved_neo4j()
    store = Store(uri, (user, password), settings.neo4j_database, timeout)
    try:
        engine = Engine(
            store,
            EngineConfig(max_chain=settings.max_chain),
            decision_file=settings.decision_file(),
        )
        return engine.trace(
            ref, since=window[0], until=window[1], limit=limit
        ).as_dict()
    finally:
        store.close()


def cli_time(value: str | None, option: str, now: datetime) -> datetime | None:
    """Parse an RFC 3339 time with a timezone, or an age (``2h``) before ``now``."""
    if value is None:
        return None
    relative = RELATIVE_TIME.fullmatch(value.strip())
    if relative is not None:
        amount, unit = relative.groups()
        return now - timedelta(seconds=int(amount) * UNIT_SECONDS[unit])
    return parse_datetime(value, option)


# Rendering.


def render_trace(trace: Mapping[str, Any], console: Console) -> None:
    """Print a trace as a summary, the authorities and one tree per decision."""
    entries: Sequence[Mapping[str, Any]] = trace["decisions"]
    console.print(_summary(trace, entries))
    if not entries:
        return

    authorities = trace["authorities"]
    if authorities:
        console.print("On whose authority (holder of the grant, allowed decisions):")
        for holder, count in authorities.items():
            console.print(f"  {escape(holder)}: {count}")

    root = Tree(f"[bold]{escape(trace['agent'])}[/]")
    for entry in entries:
        _add_decision(root, entry)
    console.print(root)

    denied_now = [e for e in entries if e["status"] == "denied_now"]
    if denied_now:
        console.print(
            f"[bold red]{len(denied_now)} allowed decision(s) would be denied now:[/]"
        )
        for entry in denied_now:
            console.print(
                f"  {escape(entry['decision_id'])} {escape(entry['action'])} "
                f"{escape(entry['resource'])}: {escape(entry['now']['reason'])}"
            )
    if trace["truncated"]:
        console.print(
            f"Only the newest {len(entries)} decisions are shown; narrow the window "
            "with --since and --until to see older ones."
        )


def _summary(trace: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]) -> str:
    window = f"from {trace['since'] or 'the start of the log'} until {trace['until'] or 'now'}"
    if not entries:
        return (
            f"No logged decisions for {escape(trace['agent'])} {window}. "
            "With DELEGRAPH_DECISION_LOG=off nothing is logged."
        )
    allowed = sum(1 for e in entries if e["outcome"] == "allow")
    return (
        f"{escape(trace['agent'])}: {len(entries)} decisions {window} "
        f"({allowed} allowed, {len(entries) - allowed} denied), "
        f"re-checked at {trace['checked_at']}"
    )


def _add_decision(root: Tree, entry: Mapping[str, Any]) -> None:
    outcome = "[green]ALLOW[/]" if entry["outcome"] == "allow" else "[red]DENY[/]"
    on_behalf = entry["on_behalf_of"]
    label = (
        f"{escape(entry['at'])} {outcome} {escape(entry['action'])} "
        f"{escape(entry['resource'])}"
        + (f" on behalf of {escape(on_behalf)}" if on_behalf else "")
        + f"  -> {STATUS_LABELS.get(entry['status'], escape(entry['status']))}"
    )
    node = root.add(label)
    chain = entry["chain"]
    if chain is not None:
        node.add("chain: " + format_chain(chain["principals"], chain["delegations"]))
        grant = chain["grant"]
        node.add(
            f"grant: held by {escape(str(grant['principal']))} "
            f"on {escape(str(grant['resource']))}"
        )
    else:
        node.add(f"reason: {escape(entry['reason'])}")
    if entry["status"] in ("denied_now", "allowed_now", "needs_context"):
        node.add(f"now: {escape(entry['now']['reason'])}")
    node.add(
        f"decision {escape(entry['decision_id'])}, request {escape(str(entry['request_id']))}"
    )


def format_chain(principals: Sequence[str], delegations: Sequence[str]) -> str:
    """Draw P0 -[d1]-> P1 -[d2]-> ... with the holder first."""
    parts = [escape(principals[0])] if principals else []
    for principal, delegation in zip(principals[1:], delegations, strict=False):
        parts.append(f"-\\[{escape(delegation)}]-> {escape(principal)}")
    return " ".join(parts)
