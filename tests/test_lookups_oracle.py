"""reach and who_can against the reference evaluator on hypothesis-generated graphs.

The graphs are those of test_oracle.py. A lookup has no request context, so
it lists what some context allows: an entry is ``conditional`` when every
chain behind it carries a condition. The expected listing therefore comes
from the oracle with conditions ignored. Every unconditional entry must also
check allow with an empty context, and every (resource, action) or principal
left out must check deny. LOOKUP_EXAMPLES overrides the 100 examples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from delegraph.cypher.store import Store
from delegraph.engine.crud import Page
from delegraph.engine.lookups import AccessEntry, ReachEntry
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import Ref
from delegraph.engine.service import Engine
from hypothesis import given, note, settings
from oracle import Oracle
from test_oracle import ACTIONS, NOW, graphs, load

T = TypeVar("T")

# Small pages, so that every listing is read across several of them.
PAGE_SIZE = 3


def all_pages(fetch: Callable[[str | None], Page[T]]) -> list[T]:
    items: list[T] = []
    token: str | None = None
    while True:
        page = fetch(token)
        assert len(page.items) <= PAGE_SIZE
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            return items


def parse(text: str) -> Ref:
    kind, _, ident = text.partition(":")
    return Ref(kind, ident)


def expected_access(
    oracle: Oracle, subject: str, resource: str, action: str
) -> bool | None:
    """Return None if no chain exists, else whether one is free of conditions."""
    request = CheckRequest(parse(subject), action, parse(resource))
    candidates = oracle.candidates(request, ignore_conditions=True)
    if not candidates:
        return None
    return not all(c.conditional for c in candidates)


def check_unlisted_deny(
    engine: Engine, requests: list[CheckRequest], what: str
) -> None:
    for request, decision in zip(requests, engine.check_batch(requests), strict=True):
        assert not decision.allowed, (
            f"{what} leaves out {request.subject} {request.action} on "
            f"{request.resource}, but check allows it: {decision.chain}"
        )


def check_listed_allow(engine: Engine, requests: list[CheckRequest], what: str) -> None:
    for request, decision in zip(requests, engine.check_batch(requests), strict=True):
        assert decision.allowed, (
            f"{what} lists {request.subject} {request.action} on {request.resource} "
            f"as unconditional, but check denies it: {decision.reason}"
        )


def compare_reach(engine: Engine, oracle: Oracle, graph: dict[str, Any]) -> None:
    actors = [f"user:{u['id']}" for u in graph["users"]]
    actors += [f"agent:{a['id']}" for a in graph["agents"]]
    actors += [f"workload:{w['id']}" for w in graph["workloads"]]
    resources = sorted(oracle.resources)
    for subject in actors:

        def reach_page(token: str | None, ref: str = subject) -> Page[ReachEntry]:
            return engine.reach(parse(ref), limit=PAGE_SIZE, page_token=token)

        entries: list[ReachEntry] = all_pages(reach_page)
        listed = {(e.resource, e.action): e.conditional for e in entries}
        assert len(listed) == len(entries), f"reach({subject}) lists a pair twice"
        expected = {}
        for resource in resources:
            for action in ACTIONS:
                access = expected_access(oracle, subject, resource, action)
                if access is not None:
                    expected[(resource, action)] = not access
        assert listed == expected, (
            f"reach({subject}) lists {listed} (pair: conditional), the oracle "
            f"expects {expected}"
        )
        unconditional = [
            CheckRequest(parse(subject), action, parse(resource))
            for (resource, action), conditional in listed.items()
            if not conditional
        ]
        check_listed_allow(engine, unconditional, f"reach({subject})")
        unlisted = [
            CheckRequest(parse(subject), action, parse(resource))
            for resource in resources
            for action in ACTIONS
            if (resource, action) not in listed
        ]
        check_unlisted_deny(engine, unlisted, f"reach({subject})")


def compare_who_can(engine: Engine, oracle: Oracle) -> None:
    principals = sorted(oracle.principals)
    for resource in sorted(oracle.resources):
        for action in ACTIONS:

            def who_can_page(
                token: str | None, ref: str = resource, name: str = action
            ) -> Page[AccessEntry]:
                return engine.who_can(
                    parse(ref), name, limit=PAGE_SIZE, page_token=token
                )

            entries: list[AccessEntry] = all_pages(who_can_page)
            what = f"who_can({resource}, {action})"
            listed = {e.principal: e.conditional for e in entries}
            assert len(listed) == len(entries), f"{what} lists a principal twice"
            assert all(e.action == action for e in entries)
            expected = {}
            for principal in principals:
                access = expected_access(oracle, principal, resource, action)
                if access is not None:
                    expected[principal] = not access
            assert listed == expected, (
                f"{what} lists {listed} (principal: conditional), the oracle "
                f"expects {expected}"
            )
            unconditional = [
                CheckRequest(parse(p), action, parse(resource))
                for p, conditional in listed.items()
                if not conditional
            ]
            check_listed_allow(engine, unconditional, what)
            unlisted = [
                CheckRequest(parse(p), action, parse(resource))
                for p in principals
                if p not in listed
            ]
            check_unlisted_deny(engine, unlisted, what)


@settings(max_examples=int(os.environ.get("LOOKUP_EXAMPLES", "100")), deadline=None)
@given(graphs())
def test_lookups_match_oracle(store: Store, graph: dict[str, Any]) -> None:
    note(f"graph: {graph}")
    engine, document = load(store, graph)
    oracle = Oracle(document, NOW)
    compare_reach(engine, oracle, graph)
    compare_who_can(engine, oracle)
