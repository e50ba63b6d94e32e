"""Reads of the decision log: filtered decision pages and an agent's trace.

Both read the (:Decision) nodes that the Neo4j sink writes or, when the
Engine has a ``decision_file``, the JSONL file of the file sink (module
``decision_file``).

A trace re-checks each logged decision against the live graph. The log keeps
the context's keys but not its values, so a re-check runs with an empty
context. A chain that needs a condition then shows as ``needs_context``,
not as allowed or denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from delegraph.cypher.queries import query
from delegraph.engine import checks, decision_file
from delegraph.engine.audit import OUTCOMES, DecisionRecord
from delegraph.engine.crud import (
    MAX_PAGE_SIZE,
    Page,
    decode_page_token,
    encode_page_token,
)
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.model import Chain, CheckRequest
from delegraph.engine.refs import Ref, parse_ref
from neo4j import ManagedTransaction

if TYPE_CHECKING:
    from delegraph.engine.service import Engine

QUERIES = "audit.cypher"
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
MAX_TRACE = checks.MAX_BATCH


@dataclass(frozen=True)
class DecisionFilter:
    """The filters of a decision read; None means any. ``until`` is exclusive."""

    subject: Ref | None = None
    on_behalf_of: Ref | None = None
    resource: Ref | None = None
    delegation: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def validate(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise InvalidRequest(
                f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}",
                "outcome",
                self.outcome,
            )
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidRequest(
                    f"{name} {value.isoformat()} has no timezone; add one, e.g. 'Z'",
                    name,
                    value.isoformat(),
                )
        if self.since and self.until and self.since >= self.until:
            raise InvalidRequest(
                f"since {self.since.isoformat()} is not before until "
                f"{self.until.isoformat()}",
                "since",
                self.since.isoformat(),
            )

    def scope(self) -> dict[str, Any]:
        """Return the filters as strings, to tie a page token to them."""
        return {
            "subject": _text(self.subject),
            "on_behalf_of": _text(self.on_behalf_of),
            "resource": _text(self.resource),
            "delegation": self.delegation,
            "outcome": self.outcome,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }

    def entry_query(self) -> str:
        """Name the prelude that starts from the most selective index."""
        if self.delegation is not None:
            return "decisions_by_delegation"
        if self.subject is not None:
            return "decisions_by_subject"
        if self.resource is not None:
            return "decisions_by_resource"
        if self.on_behalf_of is not None:
            return "decisions_by_on_behalf_of"
        return "decisions_by_time"


def _text(ref: Ref | None) -> str | None:
    return None if ref is None else str(ref)


def decisions(
    engine: Engine,
    where: DecisionFilter,
    limit: int = 100,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[DecisionRecord]:
    """Return one page of logged decisions that match ``where``, newest first."""
    where.validate()
    if isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(
            f"limit must be an integer from 1 to {MAX_PAGE_SIZE}", "limit", limit
        )
    size = limit
    scope = where.scope()
    after = decode_page_token(page_token, scope)
    after_at, after_id = _page_position(after, page_token)
    if engine.decision_file is not None:
        after_key = None if after_at is None else (after_at, str(after_id))
        found = decision_file.read_page(
            engine.decision_file, where, size + 1, after_key
        )
        return _page_of(found, size, scope)
    text = (
        query(QUERIES, where.entry_query()) + "\n" + query(QUERIES, "decisions_filter")
    )
    parameters = {
        **scope,
        "since": where.since or EARLIEST,
        "until": where.until or LATEST,
        "after_at": after_at,
        "after_id": after_id,
        "limit": size + 1,
    }

    def work(tx: ManagedTransaction) -> list[Any]:
        return [record["d"] for record in tx.run(text, parameters)]

    rows = engine.store.read(work, consistency_token)
    return _page_of([DecisionRecord.from_properties(row) for row in rows], size, scope)


def _page_of(
    records: list[DecisionRecord], size: int, scope: dict[str, Any]
) -> Page[DecisionRecord]:
    """Return the first ``size`` records, with a token when one more was read."""
    items = tuple(records[:size])
    next_token = None
    if len(records) > size:
        last = items[-1]
        next_token = encode_page_token(scope, [last.at.isoformat(), last.id])
    return Page(items, next_token)


def _page_position(
    after: Any, page_token: str | None
) -> tuple[datetime | None, str | None]:
    if after is None:
        return None, None
    try:
        at_text, decision_id = after
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            # The pages compare times with a timezone, and tokens carry one.
            raise ValueError(f"page_token time {at_text} has no timezone")
    except (TypeError, ValueError) as error:
        raise InvalidRequest(
            "page_token is not a token that this list returned",
            "page_token",
            page_token,
        ) from error
    return at, str(decision_id)


# Trace.


@dataclass(frozen=True)
class TraceEntry:
    """A logged decision and what a check of the same request decides now."""

    decision: DecisionRecord
    allowed_now: bool
    reason_now: str
    chain_now: Chain | None
    needs_context: bool

    @property
    def status(self) -> str:
        """Return one of still_allowed, denied_now, allowed_now, still_denied, needs_context."""
        if self.needs_context and not self.allowed_now:
            return "needs_context"
        if self.decision.allowed:
            return "still_allowed" if self.allowed_now else "denied_now"
        return "allowed_now" if self.allowed_now else "still_denied"

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.decision.as_dict(),
            "status": self.status,
            "now": {
                "allowed": self.allowed_now,
                "reason": self.reason_now,
                "chain": None if self.chain_now is None else self.chain_now.as_dict(),
            },
        }


@dataclass(frozen=True)
class Trace:
    """What an agent did in a window, on whose authority, and what a check decides now.

    ``authorities`` counts the allowed decisions per holder P0, the principal
    whose grant the chain carried. ``truncated`` is true when the window held
    more than ``limit`` decisions and only the newest ``limit`` are listed.
    """

    agent: str
    since: datetime | None
    until: datetime | None
    checked_at: datetime
    entries: tuple[TraceEntry, ...]
    truncated: bool

    @property
    def authorities(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            if entry.decision.allowed and entry.decision.principals:
                holder = entry.decision.principals[0]
                counts[holder] = counts.get(holder, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def denied_now(self) -> tuple[TraceEntry, ...]:
        return tuple(e for e in self.entries if e.status == "denied_now")

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "checked_at": self.checked_at.isoformat(),
            "authorities": self.authorities,
            "decisions": [entry.as_dict() for entry in self.entries],
            "denied_now": [entry.decision.id for entry in self.denied_now],
            "truncated": self.truncated,
        }


def trace(
    engine: Engine,
    agent: Ref,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = MAX_TRACE,
    consistency_token: str | None = None,
) -> Trace:
    """Read the agent's logged decisions in [since, until) and re-check each now."""
    if not 1 <= limit <= MAX_TRACE:
        raise InvalidRequest(
            f"limit must be an integer from 1 to {MAX_TRACE}", "limit", limit
        )
    where = DecisionFilter(subject=agent, since=since, until=until)
    found: list[DecisionRecord] = []
    page_token: str | None = None
    while len(found) < limit:
        page = decisions(
            engine, where, min(limit - len(found), 1000), page_token, consistency_token
        )
        found.extend(page.items)
        page_token = page.next_page_token
        if page_token is None:
            break
    found.reverse()

    checked_at = engine.clock()
    requests = [_recheck_request(record, consistency_token) for record in found]
    verdicts = checks.batch_verdicts(engine, requests, checked_at)
    entries = tuple(
        TraceEntry(
            decision=record,
            allowed_now=verdict.allowed,
            reason_now=verdict.reason,
            chain_now=verdict.chain,
            needs_context=verdict.conditions_only,
        )
        for record, verdict in zip(found, verdicts, strict=True)
    )
    return Trace(
        agent=str(agent),
        since=since,
        until=until,
        checked_at=checked_at,
        entries=entries,
        truncated=page_token is not None,
    )


def _recheck_request(
    record: DecisionRecord, consistency_token: str | None
) -> CheckRequest:
    return CheckRequest(
        subject=parse_ref(record.subject, "subject"),
        action=record.action,
        resource=parse_ref(record.resource, "resource"),
        on_behalf_of=None
        if record.on_behalf_of is None
        else parse_ref(record.on_behalf_of, "on_behalf_of"),
        consistency_token=consistency_token,
        request_id=record.request_id,
    )
