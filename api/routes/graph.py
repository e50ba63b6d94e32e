"""Bulk import and export of the document format."""

from __future__ import annotations

import json
from typing import Any

import yaml
from delegraph.api.auth import AdminCaller
from delegraph.api.deps import ConsistencyToken, EngineDep
from delegraph.api.problems import PROBLEM_RESPONSES, Problem
from delegraph.engine import graph
from delegraph.engine.documents import document_to_dict, parse_document
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1/graph", tags=["graph"], responses=PROBLEM_RESPONSES)

DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A document: users, groups, agents, workloads, resources, "
    "memberships, grants and delegations.",
    "additionalProperties": True,
}
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


@router.post(
    "/import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": DOCUMENT_SCHEMA},
                "application/yaml": {"schema": DOCUMENT_SCHEMA},
            },
        }
    },
)
async def import_graph(
    request: Request, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    """Upsert a document (JSON or YAML); loading the same document twice changes nothing."""
    data = _parse_body(await request.body(), request.headers.get("content-type", ""))
    document = parse_document(data)
    result = await run_in_threadpool(
        graph.import_document, engine.store, document, imported_by=caller.subject
    )
    return {
        "counts": result.counts,
        "edges": result.edges,
        "consistency_token": result.consistency_token,
    }


@router.get("/export")
def export_graph(
    engine: EngineDep, caller: AdminCaller, consistency_token: ConsistencyToken = None
) -> dict[str, Any]:
    """Return the whole graph in the document format."""
    return document_to_dict(engine.export_document(consistency_token))


def _parse_body(body: bytes, content_type: str) -> Any:
    media = content_type.split(";")[0].strip().lower()
    try:
        if media in YAML_TYPES:
            return yaml.safe_load(body)
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as error:
        kind = "YAML" if media in YAML_TYPES else "JSON"
        raise Problem(
            400,
            f"the request body is not valid {kind}: {error}",
            field="body",
            slug="invalid-request",
        ) from error
