"""check(): decide one request, or many, with one Cypher query each.

The query (cypher/checks.cypher) returns the candidate chains that satisfy
every rule except conditions, unconditional chains first. The engine then
evaluates the CEL conditions of each candidate in that order and allows on
the first chain whose conditions all hold.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from delegraph.cypher.checks import Bounds, CheckParameters, batch_check, single_check
from delegraph.cypher.store import StoreError, merge_tokens
from delegraph.engine import conditions
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.model import Chain, CheckRequest, Decision
from delegraph.engine.refs import Ref

if TYPE_CHECKING:
    from delegraph.engine.service import Engine

logger = logging.getLogger("delegraph.check")

MAX_BATCH = 1000


@dataclass(frozen=True)
class Verdict:
    """The outcome of the query and the conditions for one request."""

    allowed: bool
    reason: str
    chain: Chain | None = None
    # True for a deny whose candidate chains failed on conditions alone, so
    # another context (or the original one) may allow.
    conditions_only: bool = False


def bounds(engine: Engine) -> Bounds:
    config = engine.config
    return Bounds(
        max_chain=config.max_chain,
        group_depth=config.max_group_depth,
        hierarchy_depth=config.max_hierarchy_depth,
        max_candidates=config.max_candidates,
    )


def parameters(request: CheckRequest) -> CheckParameters:
    if request.subject.is_wildcard:
        raise InvalidRequest(
            f"subject {str(request.subject)!r} is a wildcard; a subject names one principal",
            "subject",
            str(request.subject),
        )
    return CheckParameters(
        subject=str(request.subject),
        action=request.action,
        resource=str(request.resource),
        resource_type=request.resource.kind,
        on_behalf_of=None
        if request.on_behalf_of is None
        else str(request.on_behalf_of),
    )


def check(engine: Engine, request: CheckRequest) -> Decision:
    """Decide ``request`` against the live graph (raises StoreUnavailable if Neo4j fails)."""
    now = engine.clock()
    text, params = single_check(bounds(engine), parameters(request), now)
    records = engine.store.read_query(text, params, request.consistency_token)
    if len(records) != 1:
        raise StoreError(f"the check query returned {len(records)} rows, expected 1")
    verdict = decide(request, records[0])
    return _record(engine, request, verdict, now)


def check_batch(engine: Engine, requests: Sequence[CheckRequest]) -> list[Decision]:
    """Decide every request with one query; decisions come back in request order."""
    if not requests:
        return []
    if len(requests) > MAX_BATCH:
        raise InvalidRequest(
            f"a batch contains at most {MAX_BATCH} checks, got {len(requests)}",
            "requests",
            len(requests),
        )
    now = engine.clock()
    return [
        _record(engine, request, verdict, now)
        for request, verdict in zip(
            requests, batch_verdicts(engine, requests, now), strict=True
        )
    ]


def batch_verdicts(
    engine: Engine, requests: Sequence[CheckRequest], now: datetime
) -> list[Verdict]:
    """Decide every request at ``now`` with one query, without recording decisions."""
    if not requests:
        return []
    rows = [parameters(request) for request in requests]
    text, params = batch_check(bounds(engine), rows, now)
    token = merge_tokens([r.consistency_token for r in requests if r.consistency_token])
    records = engine.store.read_query(text, params, token)
    by_index = {record["request_index"]: record for record in records}
    return [decide(request, by_index[index]) for index, request in enumerate(requests)]


def warm_up(engine: Engine) -> None:
    """Run the single and batch check queries once, so Neo4j plans and caches them.

    Planning the check query on a fresh server can take seconds on a busy
    machine, so a server warms up before it serves. The request names a
    subject that is not stored and records no decision.
    """
    request = CheckRequest(
        Ref("agent", "delegraph-warm-up"), "read", Ref("document", "delegraph-warm-up")
    )
    now = engine.clock()
    text, params = single_check(bounds(engine), parameters(request), now)
    engine.store.read_query(text, params)
    batch_verdicts(engine, [request], now)


def decide(request: CheckRequest, row: Any) -> Verdict:
    """Turn one result row of the check query into an allow or a deny."""
    if not row["subject_found"]:
        return Verdict(False, f"subject {request.subject} is not in the graph")
    if row["subject_disabled"]:
        return Verdict(False, f"subject {request.subject} is disabled")
    if not row["resource_found"] and not row["wildcard_found"]:
        return Verdict(
            False,
            f"resource {request.resource} is not in the graph and no wildcard "
            f"{request.resource.kind}:* is",
        )
    candidates = row["candidates"]
    if not candidates:
        return Verdict(False, _no_chain_reason(request))

    variables = conditions.activation(request)
    first_failure: str | None = None
    for candidate in candidates:
        failure = _failed_condition(candidate, variables)
        if failure is None:
            return Verdict(True, "allowed", _chain(candidate))
        first_failure = first_failure or failure
    return Verdict(
        False, first_failure or _no_chain_reason(request), conditions_only=True
    )


def _no_chain_reason(request: CheckRequest) -> str:
    holder = (
        f"{request.on_behalf_of}, holding"
        if request.on_behalf_of is not None
        else "any holder of"
    )
    return (
        f"no live delegation chain leads from {holder} {request.action!r} on "
        f"{request.resource} to {request.subject}"
    )


def _failed_condition(
    candidate: dict[str, Any], variables: dict[str, Any]
) -> str | None:
    """Return why a candidate chain's conditions fail, or None if they all hold."""
    if not candidate["conditional"]:
        return None
    grant = conditions.evaluate(candidate["grant_condition"], variables)
    if not grant.holds:
        return (
            f"grant of {candidate['grant_principal']} on {candidate['grant_resource']}: "
            + grant.describe(candidate["grant_condition"])
        )
    for delegation_id, source in zip(
        candidate["delegations"], candidate["conditions"], strict=True
    ):
        outcome = conditions.evaluate(source, variables)
        if not outcome.holds:
            return f"delegation {delegation_id!r}: " + outcome.describe(source)
    return None


def _chain(candidate: dict[str, Any]) -> Chain:
    """Build the Chain of a candidate; the query lists principals subject first."""
    return Chain(
        principals=tuple(reversed(candidate["principals"])),
        delegations=tuple(reversed(candidate["delegations"])),
        grant_principal=candidate["grant_principal"],
        grant_resource=candidate["grant_resource"],
    )


def record_unavailable(
    engine: Engine, requests: Sequence[CheckRequest], reason: str
) -> list[Decision]:
    """Hand one deny per request to ``on_decision``, for checks that Neo4j failed.

    The denies carry ``reason``, no chain and ``store_failed``. Nothing here
    reads Neo4j.
    """
    now = engine.clock()
    verdict = Verdict(allowed=False, reason=reason)
    return [
        _record(engine, request, verdict, now, store_failed=True)
        for request in requests
    ]


def _record(
    engine: Engine,
    request: CheckRequest,
    verdict: Verdict,
    now: datetime,
    store_failed: bool = False,
) -> Decision:
    decision = Decision(
        allowed=verdict.allowed,
        decision_id=str(uuid.uuid4()),
        reason=verdict.reason,
        chain=verdict.chain,
        request=request,
        decided_at=now,
        store_failed=store_failed,
    )
    logger.debug(
        "decision=%s request=%s allowed=%s subject=%s action=%s resource=%s",
        decision.decision_id,
        request.request_id,
        decision.allowed,
        request.subject,
        request.action,
        request.resource,
    )
    if engine.on_decision is not None:
        engine.on_decision(decision)
    return decision
