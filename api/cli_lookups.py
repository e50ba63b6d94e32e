"""CLI commands that read the graph around one agent: trace and reach."""

from __future__ import annotations

import typer
from delegraph.api.cli_common import (
    JsonOption,
    TimeoutOption,
    console,
    open_engine,
    print_json,
    reported_errors,
)
from delegraph.api.cli_trace import cli_time, render_trace
from delegraph.api.render import accountability_view, reach_table
from delegraph.engine.refs import parse_principal
from delegraph.engine.service import utc_now


def trace(
    agent: str = typer.Argument(..., help="Agent or workload ref, e.g. agent:planner."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Also show the logged decisions from this time: RFC 3339 with a "
        "timezone, or an age such as 30m, 2h, 7d.",
    ),
    until: str | None = typer.Option(
        None, "--until", help="End of the decision window; same forms as --since."
    ),
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Show who is accountable for an agent (live chains up to humans, and owners)
    and, with --since or --until, what it did in that window and what a check
    would deny now."""
    ref = parse_principal(agent, "agent")
    with open_engine(timeout) as engine, reported_errors():
        accountability = engine.accountability(ref)
        decisions = None
        if since is not None or until is not None:
            now = utc_now()
            decisions = engine.trace(
                ref,
                since=cli_time(since, "--since", now),
                until=cli_time(until, "--until", now),
            ).as_dict()
    if as_json:
        body = accountability.as_dict()
        if decisions is not None:
            body["decisions"] = decisions
        print_json(body)
        return
    console.print(accountability_view(accountability))
    if decisions is not None:
        render_trace(decisions, console)


def reach(
    agent: str = typer.Argument(..., help="Agent or workload ref, e.g. agent:planner."),
    limit: int = typer.Option(
        100, "--limit", min=1, max=1000, help="Entries per page."
    ),
    page_token: str | None = typer.Option(
        None, "--page-token", help="next_page_token of the previous page."
    ),
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """List every (resource, action) the agent can exercise now: its blast radius."""
    with open_engine(timeout) as engine, reported_errors():
        page = engine.reach(parse_principal(agent, "agent"), limit, page_token)
    if as_json:
        print_json(page.as_dict(lambda entry: entry.as_dict()))
        return
    console.print(reach_table(page.items, f"reach of {agent}"))
    if page.next_page_token:
        console.print(
            f"more: --page-token {page.next_page_token}", markup=False, soft_wrap=True
        )
