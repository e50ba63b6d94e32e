"""The decision store: one Neo4j driver, read and write transactions, bookmarks.

Everything that talks to Neo4j goes through :class:`Store`, so connection
errors are mapped in one place to :class:`StoreUnavailable` (retryable; the
API answers 503 and denies) and bookmarks become opaque consistency tokens.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

import neo4j
from neo4j import GraphDatabase, ManagedTransaction, Query
from neo4j.exceptions import (
    ClientError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

logger = logging.getLogger("delegraph.store")

SCHEMA_VERSION = 1
# Attempts of a read_query, and the pause in seconds before the second one
# (it grows by the same step each time).
READ_ATTEMPTS = 3
RETRY_PAUSE = 0.01

T = TypeVar("T")
Work = Callable[[ManagedTransaction], T]


class StoreError(Exception):
    """Neo4j failed in a way that is not the caller's fault."""

    retryable = False


class StoreUnavailable(StoreError):
    """Neo4j is unreachable, timed out or is not ready: deny and return 503."""

    retryable = True


class InvalidConsistencyToken(ValueError):
    """A consistency token that this store did not issue."""


@dataclass(frozen=True)
class Written:
    """The result of a write transaction and the consistency token that reads it back."""

    value: Any
    consistency_token: str


def encode_token(bookmarks: neo4j.Bookmarks) -> str:
    raw = json.dumps(sorted(bookmarks.raw_values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> neo4j.Bookmarks:
    """Turn a consistency token back into driver bookmarks, or raise InvalidConsistencyToken."""
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidConsistencyToken(token) from error
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidConsistencyToken(token)
    return neo4j.Bookmarks.from_raw_values(values)


def merge_tokens(tokens: list[str]) -> str | None:
    """Return one token that includes every write of the given tokens (None if none)."""
    if not tokens:
        return None
    merged = neo4j.Bookmarks.from_raw_values([])
    for token in tokens:
        merged = merged + decode_token(token)
    return encode_token(merged)


class Store:
    """A pooled Neo4j driver plus the database name and the query timeout."""

    def __init__(
        self,
        uri: str,
        auth: tuple[str, str],
        database: str = "neo4j",
        query_timeout: float = 5.0,
        max_pool_size: int = 64,
    ) -> None:
        self.uri = uri
        self.database = database
        self.query_timeout = query_timeout
        self.driver = GraphDatabase.driver(
            uri,
            auth=auth,
            max_connection_pool_size=max_pool_size,
            connection_acquisition_timeout=query_timeout,
            connection_timeout=min(query_timeout, 5.0),
            max_transaction_retry_time=query_timeout,
            liveness_check_timeout=30.0,
            # A property that no stored edge carries yet (say, not_before) is
            # normal for delegraph and not worth a warning per query.
            notifications_disabled_categories=["UNRECOGNIZED"],
        )

    def close(self) -> None:
        self.driver.close()

    def query(self, text: str, timeout: float | None = None) -> Query:
        """Wrap query text with the server-side transaction timeout."""
        return Query(text, timeout=timeout or self.query_timeout)

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        try:
            yield
        except (ServiceUnavailable, SessionExpired, TransientError) as error:
            logger.warning("neo4j unavailable uri=%s error=%s", self.uri, error)
            raise StoreUnavailable(str(error)) from error
        except ClientError as error:
            if (error.code or "").startswith("Neo.ClientError.Transaction.Transaction"):
                logger.warning("neo4j query timed out uri=%s error=%s", self.uri, error)
                raise StoreUnavailable(f"query timed out: {error.message}") from error
            raise
        except (DriverError, OSError) as error:
            if isinstance(error, Neo4jError):
                raise
            logger.warning("neo4j driver error uri=%s error=%s", self.uri, error)
            raise StoreUnavailable(str(error)) from error

    def _timed(self, work: Work[T]) -> Work[T]:
        """Give ``work`` the server-side transaction timeout."""
        return neo4j.unit_of_work(timeout=self.query_timeout)(work)

    def read(self, work: Work[T], consistency_token: str | None = None) -> T:
        """Run ``work`` in a read transaction (routed to secondaries on a cluster)."""
        bookmarks = decode_token(consistency_token) if consistency_token else None
        with (
            self._mapped_errors(),
            self.driver.session(
                database=self.database,
                default_access_mode=neo4j.READ_ACCESS,
                bookmarks=bookmarks,
            ) as session,
        ):
            return session.execute_read(self._timed(work))

    def read_query(
        self,
        text: str,
        parameters: dict[str, Any],
        consistency_token: str | None = None,
    ) -> list[neo4j.Record]:
        """Run one read query in an auto-commit transaction and return its records.

        This takes one round trip (RUN and PULL) where ``read`` takes two
        (BEGIN, RUN and PULL, then COMMIT), so the check path uses it. A
        retryable failure is tried again after a pause of RETRY_PAUSE times
        the attempt number, READ_ATTEMPTS times in all. A read changes
        nothing, so the retry is safe. Such failures include a server restart
        and a read that met a concurrent write (Transaction.Outdated, seen
        while the decision log wrote under load). No retry starts once
        query_timeout has passed since the first attempt, so a read fails
        within about twice query_timeout, the bound of a single retry. The
        last failure raises StoreUnavailable.
        """
        bookmarks = decode_token(consistency_token) if consistency_token else None
        deadline = time.monotonic() + self.query_timeout
        with self._mapped_errors():
            for attempt in range(1, READ_ATTEMPTS):
                try:
                    return self._read_once(text, parameters, bookmarks)
                except (ServiceUnavailable, SessionExpired, TransientError) as error:
                    if time.monotonic() >= deadline:
                        raise
                    logger.info(
                        "neo4j read failed, retrying uri=%s attempt=%d/%d error=%s",
                        self.uri,
                        attempt,
                        READ_ATTEMPTS,
                        error,
                    )
                    time.sleep(RETRY_PAUSE * attempt)
            return self._read_once(text, parameters, bookmarks)

    def _read_once(
        self,
        text: str,
        parameters: dict[str, Any],
        bookmarks: neo4j.Bookmarks | None,
    ) -> list[neo4j.Record]:
        with self.driver.session(
            database=self.database,
            default_access_mode=neo4j.READ_ACCESS,
            bookmarks=bookmarks,
        ) as session:
            return list(session.run(self.query(text), parameters))

    def write(self, work: Work[T], consistency_token: str | None = None) -> Written:
        """Run ``work`` in a write transaction and return its consistency token."""
        bookmarks = decode_token(consistency_token) if consistency_token else None
        with (
            self._mapped_errors(),
            self.driver.session(database=self.database, bookmarks=bookmarks) as session,
        ):
            value = session.execute_write(self._timed(work))
            token = encode_token(session.last_bookmarks())
        return Written(value, token)

    def ping(self) -> None:
        """Raise StoreUnavailable unless Neo4j accepts a connection."""
        with self._mapped_errors():
            self.driver.verify_connectivity()

    def apply_schema(self) -> int:
        """Create the constraints and indexes of schema.cypher and record the version."""
        with self._mapped_errors():
            for statement in schema_statements():
                self.driver.execute_query(statement, database_=self.database)
            self.driver.execute_query(
                "MERGE (s:DelegraphSchema {name: 'delegraph'}) "
                "SET s.version = $version, s.applied_at = datetime()",
                version=SCHEMA_VERSION,
                database_=self.database,
            )
        logger.info("schema version=%d applied uri=%s", SCHEMA_VERSION, self.uri)
        return SCHEMA_VERSION

    def schema_version(self) -> int | None:
        """Return the schema version stored in the graph, or None if never applied."""
        with self._mapped_errors():
            records, _, _ = self.driver.execute_query(
                "MATCH (s:DelegraphSchema {name: 'delegraph'}) RETURN s.version AS v",
                database_=self.database,
                routing_=neo4j.RoutingControl.READ,
            )
        return records[0]["v"] if records else None


def schema_statements() -> list[str]:
    """Return the statements of schema.cypher, comments removed."""
    text = resources.files("delegraph.cypher").joinpath("schema.cypher").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    return [part.strip() for part in "\n".join(lines).split(";\n") if part.strip()]
