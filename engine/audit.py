"""The decision log: every decision recorded off the check path, in batches.

``DecisionLog.record`` is the ``on_decision`` hook of the Engine. It turns a
Decision into a DecisionRecord and puts it on a bounded queue. One writer
thread takes a record, waits up to ``linger`` seconds for more (at most
``batch_size`` in all) and writes them to the sink in one call, so a light
load still writes a few transactions a second rather than one per check.
Checks therefore stay read transactions, and they wait for the log only
while the queue is full.

Back-pressure: when the queue is full, ``record`` blocks the checking thread
for up to ``put_timeout`` seconds; after that the record is dropped and
counted in ``stats.dropped``. The deny of a check that Neo4j failed
(``Decision.store_failed``) never waits: it is dropped at once when the
queue is full, because a Neo4j sink stalls in an outage and the 503 must
not wait for it. A hard kill (SIGKILL, power loss) loses what
is queued and the batch being written: at most ``capacity + batch_size``
records. ``close`` (also run at interpreter exit) writes everything queued.

A record keeps the keys of the request context and a hash of the whole
context, never its values. Without a hash key the hash is plain SHA-256, so
a context with few possible values can be found by hashing guesses; set a
hash key (HMAC-SHA256) where that matters.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from delegraph.cypher.queries import query, query_time
from delegraph.cypher.store import Store, StoreError
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.graph import native_time
from delegraph.engine.model import Decision
from delegraph.engine.refs import wildcard
from neo4j import ManagedTransaction

logger = logging.getLogger("delegraph.audit")

QUERIES = "audit.cypher"
ALLOW = "allow"
DENY = "deny"
OUTCOMES = (ALLOW, DENY)

DEFAULT_CAPACITY = 10_000
DEFAULT_BATCH_SIZE = 500
DEFAULT_PUT_TIMEOUT = 5.0
DEFAULT_LINGER = 0.05
WRITE_ATTEMPTS = 4
RETRY_BASE_DELAY = 0.2


@dataclass(frozen=True)
class DecisionRecord:
    """One logged decision; the chain fields are empty for a deny."""

    id: str
    at: datetime
    subject: str
    action: str
    resource: str
    outcome: str
    reason: str
    on_behalf_of: str | None = None
    principals: tuple[str, ...] = ()
    delegations: tuple[str, ...] = ()
    grant_principal: str | None = None
    grant_resource: str | None = None
    request_id: str | None = None
    context_keys: tuple[str, ...] = ()
    context_hash: str | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOW

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form used by the file sink and the API."""
        chain = None
        if self.allowed:
            chain = {
                "principals": list(self.principals),
                "delegations": list(self.delegations),
                "grant": {
                    "principal": self.grant_principal,
                    "resource": self.grant_resource,
                },
            }
        return {
            "decision_id": self.id,
            "at": self.at.isoformat(),
            "subject": self.subject,
            "on_behalf_of": self.on_behalf_of,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "reason": self.reason,
            "chain": chain,
            "request_id": self.request_id,
            "context_keys": list(self.context_keys),
            "context_hash": self.context_hash,
        }

    def properties(self) -> dict[str, Any]:
        """Return the properties of the (:Decision) node."""
        return {
            "id": self.id,
            "at": self.at,
            "subject": self.subject,
            "on_behalf_of": self.on_behalf_of,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "reason": self.reason,
            "principals": list(self.principals),
            "delegations": list(self.delegations),
            "grant_principal": self.grant_principal,
            "grant_resource": self.grant_resource,
            "request_id": self.request_id,
            "context_keys": list(self.context_keys),
            "context_hash": self.context_hash,
        }

    @classmethod
    def from_properties(cls, d: Mapping[str, Any]) -> DecisionRecord:
        """Build a record from the properties of a (:Decision) node."""
        at = native_time(d["at"])
        assert at is not None
        return cls(
            id=d["id"],
            at=at,
            subject=d["subject"],
            action=d["action"],
            resource=d["resource"],
            outcome=d["outcome"],
            reason=d["reason"],
            on_behalf_of=d.get("on_behalf_of"),
            principals=tuple(d.get("principals") or ()),
            delegations=tuple(d.get("delegations") or ()),
            grant_principal=d.get("grant_principal"),
            grant_resource=d.get("grant_resource"),
            request_id=d.get("request_id"),
            context_keys=tuple(d.get("context_keys") or ()),
            context_hash=d.get("context_hash"),
        )


def context_hash(context: Mapping[str, Any], key: bytes | None = None) -> str:
    """Hash the context as canonical JSON: HMAC-SHA256 with ``key``, else SHA-256."""
    canonical = json.dumps(
        context, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()
    if key is None:
        return "sha256:" + hashlib.sha256(canonical).hexdigest()
    return "hmac-sha256:" + hmac.new(key, canonical, hashlib.sha256).hexdigest()


def record_of(decision: Decision, hash_key: bytes | None = None) -> DecisionRecord:
    """Turn a Decision that carries its request into a DecisionRecord."""
    request = decision.request
    if request is None:
        raise ValueError(f"decision {decision.decision_id} carries no request")
    chain = decision.chain
    return DecisionRecord(
        id=decision.decision_id,
        at=decision.decided_at or datetime.now(UTC),
        subject=str(request.subject),
        action=request.action,
        resource=str(request.resource),
        outcome=ALLOW if decision.allowed else DENY,
        reason=decision.reason,
        on_behalf_of=None
        if request.on_behalf_of is None
        else str(request.on_behalf_of),
        principals=() if chain is None else chain.principals,
        delegations=() if chain is None else chain.delegations,
        grant_principal=None if chain is None else chain.grant_principal,
        grant_resource=None if chain is None else chain.grant_resource,
        request_id=request.request_id,
        context_keys=tuple(sorted(str(k) for k in request.context)),
        context_hash=context_hash(request.context, hash_key),
    )


# Sinks.


class Sink(Protocol):
    """A destination of record batches; ``write`` raises StoreError or OSError."""

    name: str

    def write(self, records: Sequence[DecisionRecord]) -> None: ...

    def close(self) -> None: ...


class Neo4jSink:
    """Writes each batch as (:Decision) nodes in one write transaction."""

    name = "neo4j"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.text = query(QUERIES, "write_decisions")

    def write(self, records: Sequence[DecisionRecord]) -> None:
        rows = [_neo4j_row(record) for record in records]

        def work(tx: ManagedTransaction) -> None:
            tx.run(self.text, decisions=rows).consume()

        self.store.write(work)

    def close(self) -> None:
        """Leave the store open: the Engine that shares it closes it."""


def _neo4j_row(record: DecisionRecord) -> dict[str, Any]:
    chain = [
        {
            "principal": principal,
            "position": position,
            "delegation": None if position == 0 else record.delegations[position - 1],
        }
        for position, principal in enumerate(record.principals)
    ]
    resource_type = record.resource.partition(":")[0]
    properties = record.properties()
    at = properties.pop("at")
    return {
        "id": record.id,
        "at": query_time(at),
        "properties": properties,
        "wildcard": wildcard(resource_type),
        "chain": chain,
    }


class JsonlSink:
    """Appends one JSON object per line; each batch is flushed and fsynced."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", encoding="utf-8")

    def write(self, records: Sequence[DecisionRecord]) -> None:
        lines = "".join(
            json.dumps(record.as_dict(), ensure_ascii=False) + "\n"
            for record in records
        )
        self.file.write(lines)
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


# The log.


@dataclass
class LogStats:
    """Counters of a DecisionLog since it started."""

    received: int = 0
    sampled_out: int = 0
    queued: int = 0
    written: int = 0
    dropped: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {
                "received": self.received,
                "sampled_out": self.sampled_out,
                "queued": self.queued,
                "written": self.written,
                "dropped": self.dropped,
                "failed": self.failed,
            }


class DecisionLog:
    """A bounded queue of decision records and the thread that writes them."""

    def __init__(
        self,
        sink: Sink,
        sample_rate: float = 1.0,
        capacity: int = DEFAULT_CAPACITY,
        batch_size: int = DEFAULT_BATCH_SIZE,
        put_timeout: float = DEFAULT_PUT_TIMEOUT,
        hash_key: bytes | None = None,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise InvalidRequest(
                f"sample rate must be from 0 to 1, got {sample_rate}",
                "sample_rate",
                sample_rate,
            )
        if capacity < 1 or batch_size < 1:
            raise ValueError(
                f"capacity and batch_size must be positive, got {capacity}, {batch_size}"
            )

        self.sink = sink
        self.sample_rate = sample_rate
        self.capacity = capacity
        self.batch_size = batch_size
        self.put_timeout = put_timeout
        self.hash_key = hash_key
        self.linger = linger
        self.stats = LogStats()

        self._queue: queue.Queue[DecisionRecord | None] = queue.Queue(capacity)
        self._closed = False
        self._last_drop_warning = 0.0
        self._thread = threading.Thread(
            target=self._run, name="delegraph-decision-log", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)
        logger.info(
            "decision log started sink=%s sample_rate=%s capacity=%d batch_size=%d",
            sink.name,
            sample_rate,
            capacity,
            batch_size,
        )

    def record(self, decision: Decision) -> None:
        """Queue ``decision`` (the Engine's on_decision hook); blocks while the queue is full.

        The deny of a check that Neo4j failed never blocks. When the queue is
        full, that deny is dropped at once.
        """
        self.stats.add("received")
        if not self._sampled(decision.decision_id):
            self.stats.add("sampled_out")
            return
        if self._closed:
            self._drop(decision.decision_id, "the decision log is closed")
            return
        entry = record_of(decision, self.hash_key)
        try:
            if decision.store_failed:
                self._queue.put_nowait(entry)
            else:
                self._queue.put(entry, timeout=self.put_timeout)
        except queue.Full:
            waited = 0.0 if decision.store_failed else self.put_timeout
            self._drop(
                decision.decision_id,
                f"the queue stayed full ({self.capacity}) for {waited} s",
            )
            return
        self.stats.add("queued")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued record is written or given up; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, stop the writer thread and close the sink."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            logger.error("decision log close timed out: queue still full")
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.error(
                "decision log writer still running after %s s; unwritten=%d",
                timeout,
                self._queue.qsize(),
            )
        self.sink.close()
        logger.info(
            "decision log stopped sink=%s %s", self.sink.name, self.stats.as_dict()
        )

    def _sampled(self, decision_id: str) -> bool:
        """Sample by the decision id, so the choice is stable for one decision."""
        if self.sample_rate >= 1.0:
            return True
        digest = hashlib.sha256(decision_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.sample_rate

    def _drop(self, decision_id: str, why: str) -> None:
        self.stats.add("dropped")
        now = time.monotonic()
        if now - self._last_drop_warning >= 1.0:
            self._last_drop_warning = now
            logger.warning(
                "decision dropped decision=%s reason=%s dropped_total=%d",
                decision_id,
                why,
                self.stats.dropped,
            )

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._next_batch()
            if batch:
                self._write(batch)
            for _ in range(len(batch) + int(stop)):
                self._queue.task_done()

    def _next_batch(self) -> tuple[list[DecisionRecord], bool]:
        """Wait for one record, then gather up to batch_size for ``linger`` seconds."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self.linger
        while len(batch) < self.batch_size:
            try:
                entry = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if entry is None:
                return batch, True
            batch.append(entry)
        return batch, False

    def _write(self, batch: list[DecisionRecord]) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.sink.write(batch)
            except (StoreError, OSError) as error:
                logger.warning(
                    "decision log write failed sink=%s attempt=%d/%d decisions=%s..%s "
                    "error=%s",
                    self.sink.name,
                    attempt,
                    WRITE_ATTEMPTS,
                    batch[0].id,
                    batch[-1].id,
                    error,
                )
                if attempt < WRITE_ATTEMPTS:
                    time.sleep(RETRY_BASE_DELAY * 2 ** (attempt - 1))
                continue
            self.stats.add("written", len(batch))
            return
        self.stats.add("failed", len(batch))
        logger.error(
            "decision log gave up on a batch sink=%s count=%d decisions=%s..%s",
            self.sink.name,
            len(batch),
            batch[0].id,
            batch[-1].id,
        )


# Configuration.


def open_decision_log(
    spec: str,
    store: Store,
    sample_rate: float = 1.0,
    hash_key: bytes | None = None,
    capacity: int = DEFAULT_CAPACITY,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> DecisionLog | None:
    """Open the log that ``spec`` names: ``neo4j``, ``file:PATH`` or ``off`` (None)."""
    sink: Sink
    if spec == "off":
        logger.info("decision log is off")
        return None
    if spec == "neo4j":
        sink = Neo4jSink(store)
    elif spec.startswith("file:") and len(spec) > len("file:"):
        sink = JsonlSink(Path(spec.removeprefix("file:")))
    else:
        raise InvalidRequest(
            f"DELEGRAPH_DECISION_LOG {spec!r} is not one of 'neo4j', 'file:PATH', 'off'",
            "DELEGRAPH_DECISION_LOG",
            spec,
        )
    return DecisionLog(
        sink,
        sample_rate=sample_rate,
        capacity=capacity,
        batch_size=batch_size,
        hash_key=hash_key,
    )
