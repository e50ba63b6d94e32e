"""The demo organisation: read org.yaml (package data), adjust its times, load it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import yaml
from delegraph.engine.documents import parse_document
from delegraph.engine.graph import ImportResult, clear_graph
from delegraph.engine.model import Document
from delegraph.engine.service import Engine

ORG_FILE = "org.yaml"
# The file can only hold fixed times, so these two are set relative to the
# moment of loading: one delegation that expires soon, one already expired.
EXPIRES_SOON = {"d-dan-ci": timedelta(hours=6)}
EXPIRED = {"d-bob-expenses-q2": timedelta(days=1)}
EXPIRED_VALID_FOR = timedelta(days=30)


@dataclass(frozen=True)
class LoadedOrganisation:
    """The outcome of loading the demo organisation: deleted nodes and import counts."""

    deleted_nodes: int
    document: Document
    result: ImportResult


def organisation_data(now: datetime) -> dict[str, Any]:
    """Return org.yaml as a mapping, with the relative times set from ``now``."""
    text = resources.files("delegraph.api.demo").joinpath(ORG_FILE).read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    for delegation in data["delegations"]:
        ident = delegation["id"]
        if ident in EXPIRES_SOON:
            delegation["expires_at"] = (now + EXPIRES_SOON[ident]).isoformat()
        if ident in EXPIRED:
            expires_at = now - EXPIRED[ident]
            delegation["not_before"] = (expires_at - EXPIRED_VALID_FOR).isoformat()
            delegation["expires_at"] = expires_at.isoformat()
    return data


def organisation(now: datetime) -> Document:
    return parse_document(organisation_data(now))


def load_organisation(engine: Engine) -> LoadedOrganisation:
    """Delete the whole graph, then import the demo organisation into it."""
    now = engine.clock()
    document = organisation(now)
    deleted = clear_graph(engine.store)
    result = engine.import_document(document)
    return LoadedOrganisation(deleted, document, result)
