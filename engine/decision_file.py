"""Decision reads from the JSONL file that the file sink (``file:PATH``) writes.

The reads match the reads of (:Decision) nodes in ``trace``: the same
filters, the same keyset page tokens and the same order (newest first, the
id breaking ties among equal times). Records still queued in the
DecisionLog are not in the file yet.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delegraph.engine.audit import DecisionRecord

if TYPE_CHECKING:
    from delegraph.engine.trace import DecisionFilter

logger = logging.getLogger("delegraph.audit")


def read_page(
    path: Path,
    where: DecisionFilter,
    size: int,
    after: tuple[datetime, str] | None,
) -> list[DecisionRecord]:
    """Return up to ``size`` matching records older than ``after``, newest first.

    NOTE: every read scans the whole file, so its time grows with the file
    (docs/incident-response.md gives a measured figure).
    """
    scope = where.scope()
    matches = (
        record
        for record in _records(path)
        if _matches(record, where, scope)
        and (after is None or (record.at, record.id) < after)
    )
    return heapq.nlargest(size, matches, key=lambda record: (record.at, record.id))


def _records(path: Path) -> Iterator[DecisionRecord]:
    """Yield the records of the file, skipping lines that do not parse.

    A crash of the writer can leave a partial last line, so a bad line is
    counted and logged once per read rather than failing the read.
    """
    skipped = 0
    first_bad_line = 0
    try:
        file = path.open(encoding="utf-8")
    except FileNotFoundError:
        logger.info("decision log file not found, so no decisions path=%s", path)
        return
    with file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                yield record_from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                skipped += 1
                first_bad_line = first_bad_line or number
    if skipped:
        logger.warning(
            "decision log file has invalid lines path=%s skipped=%d first_line=%d",
            path,
            skipped,
            first_bad_line,
        )


def record_from_json(data: dict[str, Any]) -> DecisionRecord:
    """Build a record from its ``DecisionRecord.as_dict`` form (one file line)."""
    at = datetime.fromisoformat(data["at"])
    if at.tzinfo is None:
        raise ValueError(f"decision {data['decision_id']} has a time without timezone")
    chain = data.get("chain") or {}
    grant = chain.get("grant") or {}
    return DecisionRecord(
        id=str(data["decision_id"]),
        at=at,
        subject=data["subject"],
        action=data["action"],
        resource=data["resource"],
        outcome=data["outcome"],
        reason=data["reason"],
        on_behalf_of=data.get("on_behalf_of"),
        principals=tuple(chain.get("principals") or ()),
        delegations=tuple(chain.get("delegations") or ()),
        grant_principal=grant.get("principal"),
        grant_resource=grant.get("resource"),
        request_id=data.get("request_id"),
        context_keys=tuple(data.get("context_keys") or ()),
        context_hash=data.get("context_hash"),
    )


def _matches(
    record: DecisionRecord, where: DecisionFilter, scope: dict[str, Any]
) -> bool:
    if where.since is not None and record.at < where.since:
        return False
    if where.until is not None and record.at >= where.until:
        return False
    if scope["subject"] is not None and record.subject != scope["subject"]:
        return False
    if (
        scope["on_behalf_of"] is not None
        and record.on_behalf_of != scope["on_behalf_of"]
    ):
        return False
    if scope["resource"] is not None and record.resource != scope["resource"]:
        return False
    if where.delegation is not None and where.delegation not in record.delegations:
        return False
    return where.outcome is None or record.outcome == where.outcome
