"""Rich renderings of decisions, explanations and lookups for the CLI and the demo.

Chains are drawn as trees from the human (or other holder) down to the
subject, with the delegation id on each branch; lists are tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from delegraph.engine.delegations import Revocation, SwitchResult
from delegraph.engine.explain import ChainVerdict, Explanation
from delegraph.engine.impact import Impact
from delegraph.engine.lookups import Accountability, ReachEntry
from delegraph.engine.model import Chain, Decision
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

ALLOW = Text("ALLOW", style="bold green")
DENY = Text("DENY", style="bold red")


def chains_tree(
    title: str, chains: Iterable[tuple[Sequence[str], Sequence[str]]]
) -> Tree:
    """Draw several chains as one tree, merging the prefixes they share."""
    root = Tree(Text(title, style="bold"))
    branches: dict[tuple[str, ...], Tree] = {}
    for principals, delegations in chains:
        key: tuple[str, ...] = (principals[0],)
        if key not in branches:
            branches[key] = root.add(Text(principals[0], style="bold"))
        branch = branches[key]
        for delegation, principal in zip(delegations, principals[1:], strict=True):
            key = (*key, delegation, principal)
            if key not in branches:
                label = Text.assemble(
                    (f"{delegation} ", "dim"), "-> ", (principal, "cyan")
                )
                branches[key] = branch.add(label)
            branch = branches[key]
    return root


def verdict_label(allowed: bool) -> Text:
    return ALLOW if allowed else DENY


def chain_tree(principals: Sequence[str], delegations: Sequence[str]) -> Tree:
    """Draw ``principals[0] -d1-> principals[1] ...`` as nested branches."""
    root = Tree(Text(principals[0], style="bold"))
    branch = root
    for delegation, principal in zip(delegations, principals[1:], strict=True):
        label = Text.assemble((f"{delegation} ", "dim"), "-> ", (principal, "cyan"))
        branch = branch.add(label)
    return root


def decision_view(decision: Decision) -> RenderableType:
    """Render the verdict, then the deciding chain and grant of an allow."""
    headline = Text.assemble(verdict_label(decision.allowed))
    if decision.reason != "allowed":
        headline.append("  " + decision.reason)
    if decision.chain is None:
        return headline
    return Group(headline, grant_chain_tree(decision.chain))


def grant_chain_tree(chain: Chain) -> Tree:
    tree = chain_tree(chain.principals, chain.delegations)
    grant = Text.assemble(
        ("grant: ", "dim"),
        chain.grant_principal,
        (" holds it on ", "dim"),
        chain.grant_resource,
    )
    tree.add(grant)
    return tree


def explanation_view(explanation: Explanation) -> RenderableType:
    """Render the summary, then each candidate chain with its edge and grant verdicts."""
    parts: list[RenderableType] = [
        Text.assemble(
            verdict_label(explanation.allowed),
            "  ",
            (explanation.code, "bold"),
            ": ",
            explanation.reason,
        )
    ]
    for chain in explanation.chains:
        parts.append(_candidate_tree(chain))
    if explanation.truncated:
        parts.append(Text("(more candidate chains exist; only the first are shown)"))
    return Group(*parts)


def _candidate_tree(chain: ChainVerdict) -> Tree:
    mark = Text("ok", style="green") if chain.allowed else Text("rejected", "red")
    root = Tree(Text.assemble("candidate chain ", mark))
    branch = root.add(Text(chain.principals[0], style="bold"))
    for edge in chain.edges:
        label = Text.assemble(
            (f"{edge.delegation} ", "dim"), "-> ", (edge.target, "cyan")
        )
        branch = branch.add(label)
        for problem in edge.problems:
            branch.add(Text(f"x {problem.code}: {problem.message}", style="red"))
    for grant in chain.grants:
        style = "red" if grant.problems else "dim"
        node = root.add(
            Text(f"grant: {grant.principal} on {grant.resource}", style=style)
        )
        for problem in grant.problems:
            node.add(Text(f"x {problem.code}: {problem.message}", style="red"))
    for problem in chain.problems:
        root.add(Text(f"x {problem.code}: {problem.message}", style="red"))
    return root


def accountability_view(accountability: Accountability) -> RenderableType:
    """Render the humans, each chain from a human down to the agent, and the owners."""
    state = " (disabled)" if accountability.disabled else ""
    humans = ", ".join(accountability.humans) or "none"
    parts: list[RenderableType] = [
        Text.assemble(
            (accountability.subject + state, "bold"), "  accountable humans: ", humans
        )
    ]
    if accountability.chains:
        parts.append(
            chains_tree(
                "live chains from a human",
                ((c.principals, c.delegations) for c in accountability.chains),
            )
        )
    else:
        parts.append(Text("no live chain leads to it from a human"))
    owners = Table("principal", "owner", "humans behind the owner", title="owners")
    for ownership in accountability.owners:
        owners.add_row(
            ownership.principal, ownership.owner, ", ".join(ownership.humans)
        )
    parts.append(owners)
    return Group(*parts)


def reach_table(entries: Sequence[ReachEntry], title: str) -> Table:
    """Tabulate reach entries: one row per resource, delegation path and grant."""
    table = Table("resource", "actions", "via delegations", "grant", title=title)
    rows: dict[tuple[str, str, str], list[str]] = {}
    for entry in entries:
        via = ", ".join(entry.chain.delegations) or "(own grant)"
        grant = f"{entry.chain.grant_principal} on {entry.chain.grant_resource}"
        action = entry.action + (" (conditional)" if entry.conditional else "")
        rows.setdefault((entry.resource, via, grant), []).append(action)
    for (resource, via, grant), actions in rows.items():
        table.add_row(resource, ", ".join(actions), via, grant)
    return table


def impact_view(impact: Impact, verb: str) -> RenderableType:
    """Render the principals that lost access and the chains the cut ended."""
    lost = ", ".join(impact.lost_access) or "none"
    parts: list[RenderableType] = [Text(f"{verb}; lost all access: {lost}")]
    if impact.chains:
        parts.append(
            chains_tree(
                "chains cut", ((c.principals, c.delegations) for c in impact.chains)
            )
        )
    if impact.truncated:
        parts.append(Text("(more chains were cut; only the first are listed)"))
    return Group(*parts)


def revocation_view(revocation: Revocation) -> RenderableType:
    delegation = revocation.delegation
    if revocation.already_revoked:
        return Text(
            f"delegation {delegation.id} was already revoked at "
            f"{delegation.revoked_at} by {delegation.revoked_by}"
        )
    verb = (
        f"revoked {delegation.id} ({delegation.source} -> {delegation.target}) "
        f"at {delegation.revoked_at} by {delegation.revoked_by}"
    )
    return impact_view(revocation.impact, verb)


def switch_view(result: SwitchResult) -> RenderableType:
    if result.unchanged:
        state = "disabled" if result.disabled else "enabled"
        return Text(f"{result.ref} was already {state}")
    verb = f"disabled {result.ref}" if result.disabled else f"enabled {result.ref}"
    return impact_view(result.impact, verb)
