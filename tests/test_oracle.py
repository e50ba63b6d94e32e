"""Engine.check against the reference evaluator on hypothesis-generated graphs.

Each example is a small graph and a list of requests. The graph has nested
groups, a resource hierarchy with sensitivities and ``type:*`` wildcards,
grants that may be expired or conditional, and delegations with cycles,
diamonds, scopes, time windows, revocations and conditions. Some principals
are disabled, and some requests name unknown subjects and resources. Every
request is decided by Engine.check, by Engine.check_batch and by
tests/oracle.py at a fixed clock, and the three must agree. An allow must
also name a chain that the oracle accepts, chosen unconditional first and
then shortest.

The ``ci`` profile (selected when CI is set) is derandomised so that a run
is reproducible. Every profile prints the ``@reproduce_failure`` blob of a
failing example. ORACLE_EXAMPLES overrides the 300 examples for a quick
local run.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import wipe
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.model import CheckRequest, Decision, Document
from delegraph.engine.refs import Ref
from delegraph.engine.service import Engine
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from oracle import Candidate, Oracle

settings.register_profile(
    "ci",
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(days=1)
FUTURE = NOW + timedelta(days=1)
ACTIONS = ("read", "write")
CONDITIONS = (
    'context.purpose == "audit"',
    "resource.properties.owner == subject.id",
    'action.name == "read"',
    'subject.type == "agent"',
    "context.level > 2",
    'subject.properties.team == "red"',
)
RESOURCE_TYPES = ("doc", "folder", "repo")
UNKNOWN_RESOURCES = ("doc:missing", "repo:missing", "folder:missing")
# Requests per example that also go through Engine.check one at a time; the
# rest are compared through check_batch only, which costs one round trip.
SINGLE_CHECKS = 8


def iso(moment: datetime) -> str:
    return moment.isoformat()


# Strategies. A graph is built as a document mapping so that it goes through
# the same parser as an imported file.

# The draws lean towards live edges and grants, so that most examples have
# allowed chains several edges long for the rarer features to cut.
optional_time = st.sampled_from([None, None, None, PAST, NOW, FUTURE])
optional_condition = st.sampled_from([None] * 8 + list(CONDITIONS))
action_sets = st.sampled_from(
    [("read",), ("read", "write"), ("read", "write"), ("write",)]
)


@st.composite
def window(draw: st.DrawFn) -> dict[str, str]:
    """Draw not_before and expires_at around NOW, with expires_at after not_before."""
    not_before = draw(optional_time)
    expires_at = draw(optional_time)
    if not_before is not None and expires_at is not None and expires_at <= not_before:
        expires_at = None
    fields = {}
    if not_before is not None:
        fields["not_before"] = iso(not_before)
    if expires_at is not None:
        fields["expires_at"] = iso(expires_at)
    return fields


def restrictions(draw: st.DrawFn, resource_refs: list[str]) -> dict[str, Any]:
    """Draw one optional field of a delegation, or now and then several.

    A single restriction per edge makes it the only thing that decides a
    chain, so a rule that the engine applied wrongly shows up as a mismatch.
    """
    kinds = ["window", "resources", "resource_types", "sensitivity", "condition"]
    kinds.append("revoked")
    chosen = draw(st.sampled_from([*kinds, "several"]))
    several = chosen == "several"
    fields: dict[str, Any] = {}
    if chosen == "window" or (several and draw(st.booleans())):
        fields.update(draw(window()))
    if chosen == "resources" or (several and draw(st.booleans())):
        fields["resources"] = draw(
            st.lists(
                st.sampled_from([*resource_refs, "doc:*", "repo:*", "doc:gone"]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
    if chosen == "resource_types" or (several and draw(st.booleans())):
        fields["resource_types"] = draw(
            st.lists(
                st.sampled_from(RESOURCE_TYPES), min_size=1, max_size=2, unique=True
            )
        )
    if chosen == "sensitivity" or (several and draw(st.booleans())):
        fields["max_sensitivity"] = draw(st.sampled_from([0, 1, 2, 3]))
    if chosen == "condition" or (several and draw(st.booleans())):
        fields["condition"] = draw(st.sampled_from(CONDITIONS))
    if chosen == "revoked" or (several and draw(st.booleans())):
        fields["revoked_at"] = iso(PAST)
        fields["revoked_by"] = "admin"
    return fields


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a small graph document that parses and imports."""
    users = [f"u{i}" for i in range(draw(st.integers(1, 3)))]
    groups = [f"g{i}" for i in range(draw(st.integers(0, 3)))]
    agents = [f"a{i}" for i in range(draw(st.integers(2, 4)))]
    workloads = [f"w{i}" for i in range(draw(st.integers(0, 1)))]
    owners = [f"user:{u}" for u in users] + [f"group:{g}" for g in groups]

    def flag() -> bool:
        return draw(st.integers(0, 7)) == 0

    document: dict[str, Any] = {
        "users": [{"id": u, "disabled": flag()} for u in users],
        "groups": [{"id": g, "disabled": flag()} for g in groups],
        "agents": [
            {"id": a, "owner": draw(st.sampled_from(owners)), "disabled": flag()}
            for a in agents
        ],
        "workloads": [
            {"id": w, "owner": draw(st.sampled_from(owners)), "disabled": flag()}
            for w in workloads
        ],
    }

    principals = (
        [f"user:{u}" for u in users]
        + [f"group:{g}" for g in groups]
        + [f"agent:{a}" for a in agents]
        + [f"workload:{w}" for w in workloads]
    )
    actors = [p for p in principals if not p.startswith("group:")]
    delegates = [p for p in principals if p.startswith(("agent:", "workload:"))]

    # Resources: folders first so that later resources can sit below them.
    resources: list[dict[str, Any]] = []
    folders: list[str] = []
    for index in range(draw(st.integers(1, 3))):
        ref = f"folder:f{index}"
        entry: dict[str, Any] = {"ref": ref}
        if len(folders) > 0 and draw(st.booleans()):
            entry["parent"] = draw(st.sampled_from(folders))
        folders.append(ref)
        resources.append(entry)
    for kind, count in (
        ("doc", draw(st.integers(1, 3))),
        ("repo", draw(st.integers(0, 1))),
    ):
        for index in range(count):
            entry = {"ref": f"{kind}:{kind[0]}{index}"}
            if draw(st.integers(0, 3)) > 0:
                entry["parent"] = draw(st.sampled_from(folders))
            resources.append(entry)
    for entry in resources:
        sensitivity = draw(st.sampled_from([None, 0, 1, 2, 3, 4]))
        if sensitivity is not None:
            entry["sensitivity"] = sensitivity
    wildcards = draw(
        st.lists(st.sampled_from(["doc:*", "repo:*", "folder:*"]), unique=True)
    )
    for ref in wildcards:
        entry = {"ref": ref}
        if draw(st.booleans()):
            entry["sensitivity"] = draw(st.integers(0, 4))
        resources.append(entry)
    resource_refs = [entry["ref"] for entry in resources]
    document["resources"] = resources

    memberships: list[dict[str, str]] = []
    if groups:
        pairs = draw(
            st.lists(
                st.tuples(st.sampled_from(principals), st.sampled_from(groups)),
                max_size=6,
                unique=True,
            )
        )
        memberships = [
            {"member": member, "group": f"group:{group}"}
            for member, group in pairs
            if member != f"group:{group}"
        ]
    document["memberships"] = memberships

    # The first grant is a live read and write for user:u0, directly or
    # through a group it joins, on a folder or on doc:*. Further grants are
    # drawn freely, and each may expire or carry a condition.
    grant_targets = sorted({*resource_refs, "doc:*"})
    holder = draw(st.sampled_from(["user:u0"] + [f"group:{g}" for g in groups]))
    if holder != "user:u0":
        # user:u0 joins the holding group directly or through another group.
        others = [f"group:{g}" for g in groups if f"group:{g}" != holder]
        outer = holder
        if len(others) > 0 and draw(st.booleans()):
            outer = draw(st.sampled_from(others))
            nested = {"member": outer, "group": holder}
            if nested not in memberships:
                memberships.append(nested)
        membership = {"member": "user:u0", "group": outer}
        if membership not in memberships:
            memberships.append(membership)
    first = {
        "principal": holder,
        "resource": draw(st.sampled_from([*folders, "doc:*"])),
        "actions": ["read", "write"],
    }
    grants = [first]
    granted = {(holder, str(first["resource"]))}
    for principal, resource in draw(
        st.lists(
            st.tuples(st.sampled_from(principals), st.sampled_from(grant_targets)),
            max_size=4,
            unique=True,
        )
    ):
        if (principal, resource) in granted:
            continue
        granted.add((principal, resource))
        grant: dict[str, Any] = {
            "principal": principal,
            "resource": resource,
            "actions": list(draw(action_sets)),
        }
        expires_at = draw(optional_time)
        if expires_at is not None:
            grant["expires_at"] = iso(expires_at)
        condition = draw(optional_condition)
        if condition is not None:
            grant["condition"] = condition
        grants.append(grant)
    document["grants"] = grants

    # A spine user:u0 -> first agent -> next agent ... gives long chains.
    # Further edges mostly start where an earlier edge ended, so diamonds
    # and cycles form, and the rest start anywhere.
    spine_length = draw(st.sampled_from(range(len(delegates), 0, -1)))
    spine = ["user:u0", *delegates[:spine_length]]
    ends = list(itertools.pairwise(spine))
    reached = list(spine)
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, 3))
        if start == 0:
            source = draw(st.sampled_from(actors))
        else:
            source = draw(st.sampled_from(reached))
        targets = [d for d in delegates if d != source]
        if targets:
            target = draw(st.sampled_from(targets))
            ends.append((source, target))
            reached.append(target)

    delegations = []
    for index, (source, target) in enumerate(ends):
        delegation: dict[str, Any] = {
            "id": f"d{index}",
            "from": source,
            "to": target,
            "actions": list(draw(action_sets)),
            "max_depth": draw(st.sampled_from([0, 1, 2, 3])),
        }
        if index < spine_length:
            # Spine edges mostly allow exactly the depth below them.
            below = spine_length - 1 - index
            delegation["max_depth"] = draw(
                st.sampled_from([below, below, below, delegation["max_depth"]])
            )
        # Half of the edges carry only actions and depth. The others draw
        # each restriction, so that often a single restriction decides.
        if draw(st.booleans()):
            delegation.update(restrictions(draw, resource_refs))
        delegations.append(delegation)
    document["delegations"] = delegations
    return document


@st.composite
def requests(draw: st.DrawFn, document: dict[str, Any]) -> list[CheckRequest]:
    """Draw check requests on the document's graph, unknown refs included."""
    principals = (
        [f"user:{u['id']}" for u in document["users"]]
        + [f"group:{g['id']}" for g in document["groups"]]
        + [f"agent:{a['id']}" for a in document["agents"]]
        + [f"workload:{w['id']}" for w in document["workloads"]]
    )
    subjects = [*principals, "agent:ghost", "user:ghost"]
    resources = [r["ref"] for r in document["resources"] if not r["ref"].endswith(":*")]
    resources += list(UNKNOWN_RESOURCES)
    contexts = st.sampled_from(
        [{}, {"purpose": "audit"}, {"purpose": "sales"}, {"level": 3}, {"level": "x"}]
    )
    owner_ids = sorted({ref.partition(":")[2] for ref in subjects})

    @st.composite
    def one(inner: st.DrawFn) -> CheckRequest:
        subject = Ref(*inner(st.sampled_from(subjects)).split(":", 1))
        resource = Ref(*inner(st.sampled_from(resources)).split(":", 1))
        on_behalf_of = inner(st.one_of(st.none(), st.none(), st.sampled_from(subjects)))
        properties = inner(
            st.one_of(
                st.just({}),
                st.sampled_from(owner_ids).map(lambda owner: {"owner": owner}),
            )
        )
        return CheckRequest(
            subject=subject,
            action=inner(st.sampled_from((*ACTIONS, "delete"))),
            resource=resource,
            context=inner(contexts),
            resource_properties=properties,
            subject_properties=inner(st.sampled_from([{}, {"team": "red"}])),
            on_behalf_of=None
            if on_behalf_of is None
            else Ref(*on_behalf_of.split(":", 1)),
        )

    return draw(st.lists(one(), min_size=10, max_size=30))


def sweep(document: dict[str, Any]) -> list[CheckRequest]:
    """Return a read request for every subject on every resource, unknown ones included."""
    subjects = (
        [f"user:{u['id']}" for u in document["users"]]
        + [f"group:{g['id']}" for g in document["groups"]]
        + [f"agent:{a['id']}" for a in document["agents"]]
        + [f"workload:{w['id']}" for w in document["workloads"]]
        + ["agent:ghost"]
    )
    resources = [r["ref"] for r in document["resources"] if not r["ref"].endswith(":*")]
    resources += list(UNKNOWN_RESOURCES)
    return [
        CheckRequest(
            subject=Ref(*subject.split(":", 1)),
            action="read",
            resource=Ref(*resource.split(":", 1)),
        )
        for subject in subjects
        for resource in resources
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[CheckRequest]]:
    document = draw(graphs())
    return document, draw(requests(document))


def describe(request: CheckRequest) -> str:
    parts = [
        f"subject={request.subject}",
        f"action={request.action}",
        f"resource={request.resource}",
        f"context={request.context}",
        f"resource_properties={request.resource_properties}",
        f"on_behalf_of={request.on_behalf_of}",
    ]
    return " ".join(parts)


def assert_chain_is_preferred(
    decision: Decision, candidates: list[Candidate], request: CheckRequest
) -> None:
    """Assert an allow names a chain the oracle accepts, unconditional first, then shortest."""
    assert decision.chain is not None, f"allow without a chain for {describe(request)}"
    named = (
        decision.chain.principals,
        decision.chain.delegations,
        decision.chain.grant_principal,
        decision.chain.grant_resource,
    )
    matching = [
        c
        for c in candidates
        if (c.principals, c.delegations, c.grant_principal, c.grant_resource) == named
    ]
    assert matching, (
        f"the engine's chain {decision.chain.as_dict()} is not a valid chain for "
        f"{describe(request)}; valid: {candidates}"
    )
    best = min((c.conditional, len(c.delegations)) for c in candidates)
    chosen = min((c.conditional, len(c.delegations)) for c in matching)
    assert chosen == best, (
        f"the engine chose {decision.chain.as_dict()} (conditional, length) "
        f"{chosen} over a preferred chain {best} for {describe(request)}"
    )


def compare(
    engine: Engine, oracle: Oracle, batch: list[CheckRequest], singles: int
) -> None:
    """Assert check_batch over ``batch``, and check over its first ``singles``, equal the oracle."""
    batched = engine.check_batch(batch)
    assert len(batched) == len(batch)
    for index, (request, from_batch) in enumerate(zip(batch, batched, strict=True)):
        candidates = oracle.candidates(request)
        expected = bool(candidates)
        assert from_batch.allowed == expected, (
            f"check_batch returned allowed={from_batch.allowed}, the oracle "
            f"{expected}, for {describe(request)}; engine reason: {from_batch.reason}"
        )
        if expected:
            assert_chain_is_preferred(from_batch, candidates, request)
        if index >= singles:
            continue
        single = engine.check(request)
        assert single.allowed == expected, (
            f"check returned allowed={single.allowed}, the oracle {expected}, "
            f"for {describe(request)}; engine reason: {single.reason}"
        )
        if expected:
            assert_chain_is_preferred(single, candidates, request)


def load(store: Store, graph: dict[str, Any]) -> tuple[Engine, Document]:
    wipe(store)
    document = parse_document(graph)
    engine = Engine(store, clock=lambda: NOW)
    engine.import_document(document)
    return engine, document


@settings(max_examples=int(os.environ.get("ORACLE_EXAMPLES", "300")), deadline=None)
@given(scenarios())
def test_check_matches_oracle(
    store: Store, scenario: tuple[dict[str, Any], list[CheckRequest]]
) -> None:
    graph, drawn = scenario
    note(f"graph: {graph}")
    engine, document = load(store, graph)
    oracle = Oracle(document, NOW)
    compare(engine, oracle, drawn + sweep(graph), singles=SINGLE_CHECKS)


def deep_graph(length: int) -> dict[str, Any]:
    """Return a graph with a folder hierarchy, a group nesting and a delegation
    chain each ``length`` long, so that every bound of the check is crossed."""
    folders = [{"ref": "folder:l0"}] + [
        {"ref": f"folder:l{i}", "parent": f"folder:l{i - 1}"} for i in range(1, length)
    ]
    groups = [f"n{i}" for i in range(length)]
    memberships = [{"member": "user:deep", "group": "group:n0"}] + [
        {"member": f"group:n{i - 1}", "group": f"group:n{i}"} for i in range(1, length)
    ]
    agents = [f"c{i}" for i in range(length)]
    holders = ["user:top", *[f"agent:{a}" for a in agents]]
    delegations = [
        {
            "id": f"c{i}",
            "from": holders[i],
            "to": holders[i + 1],
            "actions": ["read"],
            "max_depth": 32,
        }
        for i in range(length)
    ]
    return {
        "users": ["top", "deep"],
        "groups": groups,
        "agents": [{"id": a, "owner": "user:top"} for a in agents],
        "resources": folders,
        "memberships": memberships,
        "grants": [
            {"principal": "user:top", "resource": "folder:l0", "actions": ["read"]},
            {
                "principal": f"group:n{length - 1}",
                "resource": "folder:l0",
                "actions": ["read"],
            },
            {
                "principal": f"group:n{length // 2}",
                "resource": f"folder:l{length - 1}",
                "actions": ["write"],
            },
        ],
        "delegations": delegations,
    }


def test_bounds_match_oracle(clean_store: Store) -> None:
    length = 20
    graph = deep_graph(length)
    engine, document = load(clean_store, graph)
    oracle = Oracle(document, NOW)
    subjects = ["user:top", "user:deep", *[f"agent:c{i}" for i in range(length)]]
    batch = [
        CheckRequest(Ref(*subject.split(":", 1)), action, Ref("folder", f"l{level}"))
        for subject in subjects
        for level in range(length)
        for action in ACTIONS
    ]
    compare(engine, oracle, batch, singles=0)

    def expected(subject: str, level: int, action: str = "read") -> bool:
        request = CheckRequest(
            Ref(*subject.split(":", 1)), action, Ref("folder", f"l{level}")
        )
        return oracle.check(request)

    # The grant on l0 reaches 16 levels down (l16) and no further.
    assert expected("user:top", 16)
    assert not expected("user:top", 17)
    # Eight delegations are allowed, a ninth is not.
    assert expected("agent:c7", 0)
    assert not expected("agent:c8", 0)
    # user:deep reaches group n7 in eight hops, n8 and beyond not.
    assert not expected("user:deep", 0)
    assert not expected("user:deep", length - 1, "write")
    short = deep_graph(8)
    short_oracle = Oracle(parse_document(short), NOW)
    deep_read = CheckRequest(Ref("user", "deep"), "read", Ref("folder", "l0"))
    assert short_oracle.check(deep_read)
