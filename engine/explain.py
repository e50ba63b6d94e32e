"""explain(): every candidate chain of a request, with a verdict per edge.

The explain query reads the trails back from the subject whose far end holds
the action on the resource, without pruning, up to one edge past the maximum
chain length. Each edge, grant and chain is then judged here against the
check rules, so a deny names the edge and the rule it breaks. The decision
itself comes from check(), so explain never disagrees with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from delegraph.cypher.queries import bounded_query
from delegraph.engine import conditions
from delegraph.engine.graph import native_time
from delegraph.engine.model import CheckRequest, Decision
from neo4j import ManagedTransaction

if TYPE_CHECKING:
    from delegraph.engine.service import Engine

QUERIES = "explain.cypher"
MAX_PATHS = 64


@dataclass(frozen=True)
class Problem:
    """One broken rule: a stable ``code`` and a message naming the values."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class EdgeVerdict:
    """The verdict on one delegation edge of a chain."""

    delegation: str
    source: str
    target: str
    problems: tuple[Problem, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "delegation": self.delegation,
            "from": self.source,
            "to": self.target,
            "ok": not self.problems,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class GrantVerdict:
    """The verdict on one grant that the chain's holder relies on."""

    principal: str
    resource: str
    problems: tuple[Problem, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "resource": self.resource,
            "ok": not self.problems,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class ChainVerdict:
    """One candidate chain, holder first, with the verdicts on its parts."""

    principals: tuple[str, ...]
    edges: tuple[EdgeVerdict, ...]
    grants: tuple[GrantVerdict, ...]
    problems: tuple[Problem, ...]

    @property
    def allowed(self) -> bool:
        return (
            not self.problems
            and all(not e.problems for e in self.edges)
            and any(not g.problems for g in self.grants)
        )

    def first_problem(self) -> Problem | None:
        for problem in self.problems:
            return problem
        for edge in self.edges:
            for problem in edge.problems:
                return problem
        for grant in self.grants:
            for problem in grant.problems:
                return problem
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "principals": list(self.principals),
            "edges": [e.as_dict() for e in self.edges],
            "grants": [g.as_dict() for g in self.grants],
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class Explanation:
    """Why a request is allowed or denied: the decision, a reason code, the chains."""

    decision: Decision
    code: str
    reason: str
    chains: tuple[ChainVerdict, ...]
    truncated: bool

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "decision_id": self.decision.decision_id,
            "code": self.code,
            "reason": self.reason,
            "chain": None
            if self.decision.chain is None
            else self.decision.chain.as_dict(),
            "candidates": [c.as_dict() for c in self.chains],
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class Facts:
    """The facts that the explain query read about the request's resource."""

    resource_type: str
    sensitivity: int | None
    scope_refs: frozenset[str]


def explain(engine: Engine, request: CheckRequest) -> Explanation:
    """Decide ``request`` with check() and explain every candidate chain."""
    decision = engine.check(request)
    now = decision.decided_at or engine.clock()
    row = engine.store.read(_read(engine, request), request.consistency_token)

    facts = Facts(
        request.resource.kind, row["sensitivity"], frozenset(row["scope_refs"])
    )
    paths = sorted(row["paths"], key=lambda p: (len(p["edges"]), p["principals"]))
    chains = tuple(
        judge_chain(path, request, facts, now, engine.config.max_chain)
        for path in paths
    )
    code, reason = _summary(request, row, chains, decision)
    return Explanation(decision, code, reason, chains, len(row["paths"]) >= MAX_PATHS)


def _read(engine: Engine, request: CheckRequest) -> Any:
    text = bounded_query(
        QUERIES,
        "explain",
        LENGTH=engine.config.max_chain + 1,
        GROUP_DEPTH=engine.config.max_group_depth,
        HIERARCHY_DEPTH=engine.config.max_hierarchy_depth,
        MAX_PATHS=MAX_PATHS,
    )
    parameters = {
        "subject": str(request.subject),
        "action": request.action,
        "resource": str(request.resource),
        "wildcard": f"{request.resource.kind}:*",
    }

    def work(tx: ManagedTransaction) -> Any:
        return tx.run(text, parameters).single(strict=True)

    return work


def _summary(
    request: CheckRequest,
    row: Any,
    chains: tuple[ChainVerdict, ...],
    decision: Decision,
) -> tuple[str, str]:
    """Return the reason code and message of the whole explanation."""
    if decision.allowed:
        return "allowed", decision.reason
    if not row["subject_found"]:
        return "unknown_subject", f"subject {request.subject} is not in the graph"
    if row["subject_disabled"]:
        return "subject_disabled", f"subject {request.subject} is disabled"
    if not row["resource_found"] and not row["wildcard_found"]:
        return "unknown_resource", decision.reason
    if row["grants_on_resource"] == 0:
        return (
            "no_holder",
            f"no principal holds {request.action!r} on {request.resource}, "
            "its ancestors or its type's wildcard",
        )
    if not chains:
        return (
            "no_path_to_holder",
            f"no delegation path leads to {request.subject} from a holder of "
            f"{request.action!r} on {request.resource}",
        )
    problem = chains[0].first_problem()
    if problem is None:
        return "chain_rejected", decision.reason
    return problem.code, problem.message


def judge_chain(
    path: dict[str, Any],
    request: CheckRequest,
    facts: Facts,
    now: datetime,
    max_chain: int,
) -> ChainVerdict:
    """Judge one trail of the explain query; its lists run subject first."""
    principals = tuple(reversed(path["principals"]))
    edges = list(reversed(path["edges"]))
    disabled = set(path["disabled"])
    variables = conditions.activation(request)
    length = len(edges)

    verdicts = tuple(
        EdgeVerdict(
            delegation=edge["id"],
            source=principals[index],
            target=principals[index + 1],
            problems=_edge_problems(
                edge,
                request,
                facts,
                now,
                after=length - 1 - index,
                variables=variables,
                disabled_target=principals[index + 1]
                if principals[index + 1] in disabled
                else None,
                revisits=principals[index] in principals[index + 1 :],
            ),
        )
        for index, edge in enumerate(edges)
    )
    grants = tuple(
        GrantVerdict(g["principal"], g["resource"], _grant_problems(g, now, variables))
        for g in path["grants"]
    )
    return ChainVerdict(
        principals,
        verdicts,
        grants,
        _chain_problems(principals, disabled, request, max_chain),
    )


def _chain_problems(
    principals: tuple[str, ...],
    disabled: set[str],
    request: CheckRequest,
    max_chain: int,
) -> tuple[Problem, ...]:
    problems: list[Problem] = []
    holder = principals[0]
    length = len(principals) - 1
    if holder in disabled:
        problems.append(Problem("disabled_principal", f"holder {holder} is disabled"))
    if length > max_chain:
        problems.append(
            Problem(
                "chain_too_long",
                f"the chain has {length} delegations; the server allows at most {max_chain}",
            )
        )
    if request.on_behalf_of is not None and holder != str(request.on_behalf_of):
        problems.append(
            Problem(
                "not_on_behalf_of",
                f"the chain starts at {holder}, but the request acts on behalf of "
                f"{request.on_behalf_of}",
            )
        )
    return tuple(problems)


def _edge_problems(
    edge: dict[str, Any],
    request: CheckRequest,
    facts: Facts,
    now: datetime,
    *,
    after: int,
    variables: dict[str, Any],
    disabled_target: str | None,
    revisits: bool,
) -> tuple[Problem, ...]:
    """Return every rule that one delegation edge breaks for this request."""
    name = f"delegation {edge['id']!r}"
    problems = [
        *_time_problems(edge, name, now),
        *_scope_problems(edge, name, request, facts),
    ]
    max_depth = edge.get("max_depth") or 0
    if after > max_depth:
        problems.append(
            Problem(
                "depth_exceeded",
                f"{name} allows {max_depth} further delegation(s) below it, "
                f"but the chain has {after}",
            )
        )
    outcome = conditions.evaluate(edge.get("condition"), variables)
    if not outcome.holds:
        code = "condition_field_missing" if outcome.missing_field else "condition_false"
        problems.append(
            Problem(code, f"{name}: " + outcome.describe(edge["condition"]))
        )
    if disabled_target is not None:
        problems.append(
            Problem(
                "disabled_principal",
                f"{name} leads to {disabled_target}, which is disabled",
            )
        )
    if revisits:
        problems.append(
            Problem(
                "cycle", f"{name} closes a cycle: the chain visits a principal twice"
            )
        )
    return tuple(problems)


def _time_problems(edge: dict[str, Any], name: str, now: datetime) -> list[Problem]:
    problems: list[Problem] = []
    revoked_at = native_time(edge.get("revoked_at"))
    if revoked_at is not None:
        reason = edge.get("revoke_reason")
        problems.append(
            Problem(
                "revoked",
                f"{name} was revoked at {revoked_at.isoformat()} by "
                f"{edge.get('revoked_by')}" + (f": {reason}" if reason else ""),
            )
        )
    not_before = native_time(edge.get("not_before"))
    if not_before is not None and now < not_before:
        problems.append(
            Problem("not_yet_valid", f"{name} is valid from {not_before.isoformat()}")
        )
    expires_at = native_time(edge.get("expires_at"))
    if expires_at is not None and now >= expires_at:
        problems.append(
            Problem("expired", f"{name} expired at {expires_at.isoformat()}")
        )
    return problems


def _scope_problems(
    edge: dict[str, Any], name: str, request: CheckRequest, facts: Facts
) -> list[Problem]:
    problems: list[Problem] = []
    actions = edge.get("actions") or []
    if request.action not in actions:
        problems.append(
            Problem(
                "action_missing",
                f"{name} grants {', '.join(actions)}, not {request.action!r}",
            )
        )
    resources = edge.get("resources")
    if resources is not None and not facts.scope_refs.intersection(resources):
        problems.append(
            Problem(
                "outside_scope",
                f"{name} covers resources {', '.join(resources) or '(none)'}, "
                f"which do not include {request.resource}",
            )
        )
    types = edge.get("resource_types")
    if types is not None and facts.resource_type not in types:
        problems.append(
            Problem(
                "outside_scope",
                f"{name} covers resource types {', '.join(types) or '(none)'}, "
                f"not {facts.resource_type!r}",
            )
        )
    ceiling = edge.get("max_sensitivity")
    if (
        ceiling is not None
        and facts.sensitivity is not None
        and facts.sensitivity > ceiling
    ):
        problems.append(
            Problem(
                "above_sensitivity",
                f"{name} admits sensitivity up to {ceiling}; {request.resource} has "
                f"{facts.sensitivity}",
            )
        )
    return problems


def _grant_problems(
    grant: dict[str, Any], now: datetime, variables: dict[str, Any]
) -> tuple[Problem, ...]:
    name = f"grant of {grant['principal']} on {grant['resource']}"
    problems: list[Problem] = []
    expires_at = native_time(grant.get("expires_at"))
    if expires_at is not None and now >= expires_at:
        problems.append(
            Problem("expired", f"{name} expired at {expires_at.isoformat()}")
        )
    for ref in grant["disabled"]:
        problems.append(
            Problem(
                "disabled_principal",
                f"{name} is reached through {ref}, which is disabled",
            )
        )
    outcome = conditions.evaluate(grant.get("condition"), variables)
    if not outcome.holds:
        code = "condition_field_missing" if outcome.missing_field else "condition_false"
        problems.append(
            Problem(code, f"{name}: " + outcome.describe(grant["condition"]))
        )
    return tuple(problems)
