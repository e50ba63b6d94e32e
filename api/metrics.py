"""Prometheus metrics of the API, kept in one registry per application."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CHECK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Decisions by outcome, check latency, Neo4j errors and requests in flight."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "delegraph_decisions_total",
            "Decisions returned, by endpoint and outcome (allow, deny, error).",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.check_latency = Histogram(
            "delegraph_check_duration_seconds",
            "Time to decide one request or one batch, in seconds, by endpoint.",
            ["endpoint"],
            buckets=CHECK_BUCKETS,
            registry=self.registry,
        )
        self.neo4j_errors = Counter(
            "delegraph_neo4j_errors_total",
            "Requests that failed because Neo4j was unavailable, timed out or failed.",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "delegraph_http_requests_in_flight",
            "HTTP requests being served right now.",
            registry=self.registry,
        )

    def count_decisions(self, endpoint: str, allowed: list[bool]) -> None:
        allows = sum(allowed)
        if allows:
            self.decisions.labels(endpoint, "allow").inc(allows)
        if len(allowed) - allows:
            self.decisions.labels(endpoint, "deny").inc(len(allowed) - allows)
