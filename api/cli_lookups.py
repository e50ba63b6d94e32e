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
from delegraph.api.render import accountability_view, reach_table
from delegraph.engine.refs import parse_principal


def trace(
    agent: str = typer.Argument(..., help="Agent or workload ref, e.g. agent:planner."),
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Show who is accountable for an agent: live chains up to humans, and owners."""
    with open_engine(timeout) as engine, reported_errors():
        accountability = engine.accountability(parse_principal(agent, "agent"))
    if as_json:
        print_json(accountability.as_dict())
    else:
        console.print(accountability_view(accountability))


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
        print_json(
            {
                "items": [entry.as_dict() for entry in page.items],
                "next_page_token": page.next_page_token,
            }
        )
        return
    console.print(reach_table(page.items, f"reach of {agent}"))
    if page.next_page_token:
        console.print(f"more: --page-token {page.next_page_token}", markup=False)
