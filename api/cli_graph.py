"""CLI commands for whole graphs and runs: import, export, demo, bench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from delegraph.api import neo4j_local
from delegraph.api.cli_common import (
    ERROR,
    JsonOption,
    TimeoutOption,
    TokenOption,
    UrlOption,
    api_client,
    console,
    fail,
    open_engine,
    print_json,
    reported_errors,
)
from delegraph.api.cli_results import rebuilt
from delegraph.engine.documents import document_to_dict, parse_document
from delegraph.engine.graph import ImportResult, import_document, row_count
from delegraph.engine.model import Document
from delegraph.engine.service import Engine
from rich.progress import Progress
from rich.table import Table

# Imports with fewer rows than this finish in a few seconds and get no bar.
PROGRESS_MIN_ROWS = 5000


def import_file(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="Document in YAML or JSON."),
    ],
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Load a document into the graph (an upsert: loading it twice changes nothing)."""
    with reported_errors():
        document = _read_document(file)
    api = api_client(url, token, timeout)
    if api is not None:
        # The file is checked here first, so a bad document fails with the same
        # message in both modes. The API parses the bytes again as YAML, which
        # also reads JSON, as _read_document does.
        body = api.call(
            "POST",
            "/v1/graph/import",
            content=file.read_bytes(),
            content_type="application/yaml",
        )
        counts = rebuilt(
            lambda data: dict(data["counts"]), body, "POST /v1/graph/import"
        )
    else:
        total = row_count(document)
        with open_engine(timeout) as engine, reported_errors():
            if as_json or total < PROGRESS_MIN_ROWS:
                result = import_document(engine.store, document)
            else:
                result = _import_with_progress(engine, document, total)
        body = {
            "counts": result.counts,
            "edges": result.edges,
            "consistency_token": result.consistency_token,
        }
        counts = result.counts
    if as_json:
        print_json(body)
        return
    table = Table("section", "rows", title=f"imported {file}")
    for section, count in counts.items():
        table.add_row(section, str(count))
    console.print(table)


def _read_document(file: Path) -> Document:
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        fail(f"{file} is not valid YAML or JSON: {error}")
    return parse_document(data)


def _import_with_progress(
    engine: Engine, document: Document, total: int
) -> ImportResult:
    with Progress(console=console) as progress:
        task = progress.add_task("importing", total=total)

        def advance(section: str, rows: int) -> None:
            progress.update(task, advance=rows, description=f"importing {section}")

        return import_document(engine.store, document, on_batch=advance)


def export(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write; standard output if omitted."
        ),
    ] = None,
    output_format: str = typer.Option(
        "yaml", "--format", help="yaml or json (json when --output ends in .json)."
    ),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    timeout: float = TimeoutOption,
) -> None:
    """Write the whole graph as a document that ``import`` loads back."""
    if output is not None and output.suffix == ".json":
        output_format = "json"
    if output_format not in ("yaml", "json"):
        fail(f"--format {output_format!r} is not one of yaml, json")
    api = api_client(url, token, timeout)
    if api is not None:
        data = api.call("GET", "/v1/graph/export")
        if not isinstance(data, dict):
            fail(f"GET /v1/graph/export returned no document: {data!r:.200}")
    else:
        with open_engine(timeout) as engine, reported_errors():
            data = document_to_dict(engine.export_document())
    if output_format == "json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}", markup=False)


def demo(
    serve: bool = typer.Option(
        True,
        "--serve/--no-serve",
        help="Keep serving after the scenario (Ctrl-C ends).",
    ),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        envvar="DELEGRAPH_HOST",
        help="Address the REST API binds.",
    ),
    port: int = typer.Option(
        8000,
        "--port",
        envvar="DELEGRAPH_PORT",
        help="TCP port of the REST API.",
    ),
    replace_graph: bool = typer.Option(
        False,
        "--replace-graph",
        help="Allow deleting the graph of the Neo4j that NEO4J_URI names.",
    ),
) -> None:
    """Load the demo organisation, tell the story step by step, then serve."""
    from delegraph.api.demo.run import DemoError, DemoOptions, run_demo

    options = DemoOptions(serve, host, port, replace_graph)
    try:
        with reported_errors():
            steps = run_demo(options, console)
    except DemoError as error:
        fail(str(error))
    if not all(step.ok for step in steps):
        raise typer.Exit(1)


def bench(
    context: typer.Context,
) -> None:
    """Run the benchmarks (``python -m bench.run``); extra arguments are passed on."""
    root = neo4j_local.project_root()
    if not (root / "bench" / "run.py").exists():
        fail(
            f"no bench/run.py under {root}; the benchmarks are not part of the "
            "installed package, so run this from a delegraph checkout",
            ERROR,
        )
    command = [sys.executable, "-m", "bench.run", *context.args]
    completed = subprocess.run(command, cwd=root, check=False)  # noqa: S603
    raise typer.Exit(completed.returncode)
