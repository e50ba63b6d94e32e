"""CLI commands that read the graph around one agent: trace and reach."""

from __future__ import annotations

from typing import Any

import typer
from delegraph.api.cli_common import (
    JsonOption,
    TimeoutOption,
    TokenOption,
    UrlOption,
    api_client,
    console,
    open_engine,
    path_segment,
    print_json,
    reported_errors,
)
from delegraph.api.cli_results import (
    accountability_from_dict,
    reach_entry_from_dict,
    rebuilt,
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
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Show who is accountable for an agent (live chains up to humans, and owners)
    and, with --since or --until, what it did in that window and what a check
    would deny now."""
    with reported_errors():
        ref = parse_principal(agent, "agent")
        window = None
        if since is not None or until is not None:
            now = utc_now()
            window = (cli_time(since, "--since", now), cli_time(until, "--until", now))
    api = api_client(url, token, timeout)
    decisions: dict[str, Any] | None = None
    if api is not None:
        agent_path = f"/v1/agents/{path_segment(str(ref))}"
        body = api.call("GET", f"{agent_path}/accountability")
        accountability = rebuilt(
            accountability_from_dict, body, "GET /v1/agents/{ref}/accountability"
        )
        if window is not None:
            decisions = api.call(
                "GET",
                f"{agent_path}/trace",
                params={
                    "since": None if window[0] is None else window[0].isoformat(),
                    "until": None if window[1] is None else window[1].isoformat(),
                },
            )
    else:
        with open_engine(timeout) as engine, reported_errors():
            accountability = engine.accountability(ref)
            if window is not None:
                decisions = engine.trace(
                    ref, since=window[0], until=window[1]
                ).as_dict()
        body = accountability.as_dict()
    if as_json:
        output = dict(body)
        if decisions is not None:
            output["decisions"] = decisions
        print_json(output)
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
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """List every (resource, action) the agent can exercise now: its blast radius.

    Both modes print one page of at most --limit entries and, when more
    exist, the --page-token that reads the next page.
    """
    with reported_errors():
        ref = parse_principal(agent, "agent")
    api = api_client(url, token, timeout)
    if api is not None:
        page = api.call(
            "GET",
            f"/v1/agents/{path_segment(str(ref))}/reach",
            params={"limit": limit, "page_token": page_token},
        )
        entries = rebuilt(
            lambda body: [reach_entry_from_dict(item) for item in body["items"]],
            page,
            "GET /v1/agents/{ref}/reach",
        )
        next_page_token = page.get("next_page_token")
    else:
        with open_engine(timeout) as engine, reported_errors():
            result = engine.reach(ref, limit, page_token)
        page = result.as_dict(lambda entry: entry.as_dict())
        entries = list(result.items)
        next_page_token = result.next_page_token
    if as_json:
        print_json(page)
        return
    console.print(reach_table(entries, f"reach of {agent}"))
    if next_page_token:
        console.print(
            f"more: --page-token {next_page_token}", markup=False, soft_wrap=True
        )
