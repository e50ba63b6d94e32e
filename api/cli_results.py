"""Engine result types rebuilt from REST API bodies, for the CLI's ``--url`` mode.

Each function inverts the ``as_dict`` rendering of one engine type, so a
command renders an API body with the same code as a result of its direct
(Neo4j) mode. Computed members such as ``allowed`` or ``humans`` are left
out of the rebuild because the engine types derive them again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from delegraph.api.cli_common import fail
from delegraph.engine.delegations import Revocation
from delegraph.engine.documents import parse_delegation
from delegraph.engine.errors import DelegraphError
from delegraph.engine.explain import (
    ChainVerdict,
    EdgeVerdict,
    Explanation,
    GrantVerdict,
    Problem,
)
from delegraph.engine.impact import AffectedPrincipal, CutChain, Impact
from delegraph.engine.lookups import (
    Accountability,
    AccountableChain,
    Ownership,
    ReachEntry,
)
from delegraph.engine.model import Chain, Decision

Body = Mapping[str, Any]
T = TypeVar("T")


def chain_from_dict(body: Body) -> Chain:
    return Chain(
        principals=tuple(body["principals"]),
        delegations=tuple(body["delegations"]),
        grant_principal=body["grant"]["principal"],
        grant_resource=body["grant"]["resource"],
    )


def decision_from_dict(body: Body) -> Decision:
    """Rebuild a Decision from a ``POST /v1/check`` body."""
    chain = body.get("chain")
    return Decision(
        allowed=body.get("allowed") is True,
        decision_id=str(body.get("decision_id", "")),
        reason=str(body.get("reason", "")),
        chain=None if not chain else chain_from_dict(chain),
    )


def _problems(items: list[Body]) -> tuple[Problem, ...]:
    return tuple(Problem(item["code"], item["message"]) for item in items)


def _candidate(body: Body) -> ChainVerdict:
    return ChainVerdict(
        principals=tuple(body["principals"]),
        edges=tuple(
            EdgeVerdict(
                delegation=edge["delegation"],
                source=edge["from"],
                target=edge["to"],
                problems=_problems(edge["problems"]),
            )
            for edge in body["edges"]
        ),
        grants=tuple(
            GrantVerdict(
                principal=grant["principal"],
                resource=grant["resource"],
                problems=_problems(grant["problems"]),
            )
            for grant in body["grants"]
        ),
        problems=_problems(body["problems"]),
    )


def explanation_from_dict(body: Body) -> Explanation:
    """Rebuild an Explanation from a ``POST /v1/explain`` body."""
    decision = Decision(
        allowed=body["allowed"] is True,
        decision_id=str(body["decision_id"]),
        reason=str(body["reason"]),
        chain=None if not body["chain"] else chain_from_dict(body["chain"]),
    )
    return Explanation(
        decision=decision,
        code=body["code"],
        reason=body["reason"],
        chains=tuple(_candidate(item) for item in body["candidates"]),
        truncated=body["truncated"] is True,
    )


def accountability_from_dict(body: Body) -> Accountability:
    """Rebuild an Accountability from a ``GET /v1/agents/{ref}/accountability`` body."""
    return Accountability(
        subject=body["subject"],
        disabled=body["disabled"] is True,
        chains=tuple(
            AccountableChain(tuple(item["principals"]), tuple(item["delegations"]))
            for item in body["chains"]
        ),
        owners=tuple(
            Ownership(item["principal"], item["owner"], tuple(item["humans"]))
            for item in body["owners"]
        ),
    )


def reach_entry_from_dict(body: Body) -> ReachEntry:
    """Rebuild one item of a ``GET /v1/agents/{ref}/reach`` page."""
    return ReachEntry(
        resource=body["resource"],
        action=body["action"],
        chain=chain_from_dict(body["chain"]),
        conditional=body["conditional"] is True,
    )


def impact_from_dict(body: Body) -> Impact:
    return Impact(
        chains=tuple(
            CutChain(tuple(item["principals"]), tuple(item["delegations"]))
            for item in body["chains"]
        ),
        affected=tuple(
            AffectedPrincipal(item["ref"], item["still_reachable"] is True)
            for item in body["affected"]
        ),
        truncated=body["truncated"] is True,
    )


def revocation_from_dict(body: Body) -> Revocation:
    """Rebuild a Revocation from a ``POST /v1/delegations/{id}/revoke`` body."""
    return Revocation(
        delegation=parse_delegation(body["delegation"]),
        already_revoked=body["already_revoked"] is True,
        impact=impact_from_dict(body["impact"]),
        consistency_token=body["consistency_token"],
    )


def rebuilt(build: Callable[[Body], T], body: Any, endpoint: str) -> T:
    """Apply ``build`` to an API body, or exit 2 when the body lacks a member it reads."""
    try:
        return build(body)
    except (KeyError, TypeError, DelegraphError) as error:
        fail(
            f"{endpoint} returned a body that this CLI cannot read ({error!r}). "
            "Check that the CLI and the API run the same delegraph version."
        )
