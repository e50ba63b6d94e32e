"""Seeded, deterministic organisations of a given size, as engine Documents.

An organisation has departments of teams of humans. Groups nest three deep
(human -> team -> department -> everyone), and every group has a grant:
the department on its folder, the team on its project folder, everyone on
the wildcard ``wiki:*``. Each human holds a grant on a personal document
and roots one or two agent trees of depth 1 to ``max_tree_depth``, and each
team owns a workload with a grant on the team's repository.

Size is counted in delegation and grant edges (the edges a check walks and
matches); ownership, membership and hierarchy edges come on top and are
counted separately. About 1% of delegations are revoked, 5% expired and 10%
carry a CEL condition that requests satisfy with ``context.purpose``.

The same ``Shape`` always gives the same organisation and the same probes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from delegraph.engine.model import (
    CheckRequest,
    Delegation,
    Document,
    Grant,
    Membership,
    Principal,
    Resource,
)
from delegraph.engine.refs import Ref

ACTIONS = ("read", "write", "comment")
PURPOSE = "bench"
CONDITION = f'context.purpose == "{PURPOSE}"'
CREATED_AT = datetime(2025, 6, 1, tzinfo=UTC)
REVOKED_AT = datetime(2025, 7, 1, tzinfo=UTC)
EXPIRED_AT = datetime(2025, 8, 1, tzinfo=UTC)
LIVE_UNTIL = datetime(2099, 1, 1, tzinfo=UTC)
CAPPED_SENSITIVITY = 3


@dataclass(frozen=True)
class Shape:
    """The parameters of an organisation; ``edges`` counts delegation and grant edges."""

    edges: int
    seed: int = 1
    fanout: int = 2
    max_tree_depth: int = 8
    humans_per_team: int = 6
    teams_per_department: int = 3
    documents_per_human: int = 2
    revoked_share: float = 0.01
    expired_share: float = 0.05
    conditional_share: float = 0.10
    revoke_rigs: int = 0


@dataclass(frozen=True)
class Subject:
    """An agent of a generated tree and what its chain from the human carries.

    ``live`` is true when no delegation on the chain is revoked or expired.
    ``max_sensitivity`` is the narrowest cap on the chain (None: uncapped).
    ``folder_scope`` is true when the chain is scoped to the department's
    folder, false when it is scoped to the ``document`` type.
    """

    ref: Ref
    depth: int
    human: Ref
    department: int
    actions: tuple[str, ...]
    live: bool
    max_sensitivity: int | None
    folder_scope: bool


@dataclass(frozen=True)
class RevokeRig:
    """Two agents for one revoke trial.

    The bench creates ``delegation_id`` (``human`` -> ``agent``, max_depth 1)
    through the engine, checks that ``sub_agent`` may read ``resource``
    through it, revokes it and checks again: the second check must deny.
    """

    human: Ref
    agent: Ref
    sub_agent: Ref
    delegation_id: str
    resource: Ref

    def delegation(self) -> Delegation:
        return Delegation(
            id=self.delegation_id,
            source=self.human,
            target=self.agent,
            actions=("read",),
            resource_types=("document",),
            max_depth=1,
            expires_at=LIVE_UNTIL,
        )

    def request(self) -> CheckRequest:
        return CheckRequest(self.sub_agent, "read", self.resource)


@dataclass(frozen=True)
class Probe:
    """A check request with the depth of its subject and the outcome the generator expects."""

    request: CheckRequest
    depth: int
    expected_allowed: bool


@dataclass(frozen=True)
class Organisation:
    """A generated graph and what the bench needs to probe it.

    ``rig_document`` contains the agents of the revoke trials; it is imported
    only before those trials, so it counts in no size.
    """

    shape: Shape
    document: Document
    subjects: tuple[Subject, ...]
    department_documents: tuple[tuple[Ref, ...], ...]
    sensitivities: dict[Ref, int]
    rigs: tuple[RevokeRig, ...]
    rig_document: Document

    @property
    def delegation_edges(self) -> int:
        return len(self.document.delegations)

    @property
    def grant_edges(self) -> int:
        return len(self.document.grants)

    @property
    def edges(self) -> int:
        """Delegation and grant edges: the size of the organisation."""
        return self.delegation_edges + self.grant_edges

    @property
    def all_edges(self) -> int:
        """Every relationship the import writes, ownership and hierarchy included."""
        document = self.document
        owners = sum(1 for p in document.principals if p.owner is not None)
        parents = sum(1 for r in document.resources if r.parent is not None)
        return self.edges + owners + parents + len(document.memberships)

    def live_subjects(self) -> list[Subject]:
        return [s for s in self.subjects if s.live]


@dataclass
class _Builder:
    shape: Shape
    rng: random.Random
    principals: list[Principal] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    delegations: list[Delegation] = field(default_factory=list)
    subjects: list[Subject] = field(default_factory=list)
    department_documents: list[list[Ref]] = field(default_factory=list)
    sensitivities: dict[Ref, int] = field(default_factory=dict)
    humans: list[tuple[Ref, int]] = field(default_factory=list)
    agent_count: int = 0
    document_count: int = 0

    @property
    def edges(self) -> int:
        return len(self.grants) + len(self.delegations)

    def add_everyone(self) -> None:
        everyone = Ref("group", "everyone")
        self.principals.append(Principal(everyone))
        self.resources.append(Resource(Ref("wiki", "*")))
        self.grants.append(Grant(everyone, Ref("wiki", "*"), ("read",)))

    def add_department(self, number: int) -> None:
        group = Ref("group", f"dept-{number}")
        folder = Ref("folder", f"dept-{number}")
        self.principals.append(Principal(group))
        self.memberships.append(Membership(group, Ref("group", "everyone")))
        self.resources.append(Resource(folder))
        self.grants.append(Grant(group, folder, ACTIONS))
        self.department_documents.append([])

    def add_team(self, department: int, team: int) -> tuple[Ref, Ref]:
        name = f"{department}-{team}"
        group = Ref("group", f"team-{name}")
        project = Ref("folder", f"proj-{name}")
        repo = Ref("repo", f"team-{name}")
        workload = Ref("workload", f"ci-{name}")
        self.principals.append(Principal(group))
        self.memberships.append(Membership(group, Ref("group", f"dept-{department}")))
        self.resources.append(
            Resource(project, parent=Ref("folder", f"dept-{department}"))
        )
        self.resources.append(Resource(repo))
        self.grants.append(Grant(group, project, (*ACTIONS, "share")))
        self.principals.append(Principal(workload, owner=group))
        self.grants.append(Grant(workload, repo, ("read", "write")))
        return group, project

    def add_human(self, number: int, department: int, team: Ref, project: Ref) -> None:
        human = Ref("user", f"h{number}")
        self.principals.append(Principal(human))
        self.memberships.append(Membership(human, team))
        self.humans.append((human, department))
        for _ in range(self.shape.documents_per_human):
            self.add_document(project, department)
        personal = Ref("document", f"home-h{number}")
        self.resources.append(Resource(personal, sensitivity=4))
        self.grants.append(Grant(human, personal, ("read", "write", "share")))
        for _ in range(self.rng.choice((1, 2))):
            self.add_tree(human, department)

    def add_document(self, project: Ref, department: int) -> None:
        self.document_count += 1
        ref = Ref("document", f"d{self.document_count}")
        sensitivity = self.rng.randint(0, 4)
        self.resources.append(Resource(ref, parent=project, sensitivity=sensitivity))
        self.sensitivities[ref] = sensitivity
        self.department_documents[department].append(ref)

    def new_agent(self, owner: Ref) -> Ref:
        self.agent_count += 1
        ref = Ref("agent", f"a{self.agent_count}")
        self.principals.append(Principal(ref, owner=owner))
        return ref

    def add_tree(self, human: Ref, department: int) -> None:
        """Add an agent tree below ``human``: a spine of the tree's depth, with branches."""
        depth = self.rng.randint(1, self.shape.max_tree_depth)
        actions = tuple(a for a in ACTIONS if a == "read" or self.rng.random() < 0.6)
        if self.rng.random() < 0.5:
            scope: dict[str, tuple[str, ...]] = {"resource_types": ("document",)}
        else:
            scope = {"resources": (f"folder:dept-{department}",)}
        cap = CAPPED_SENSITIVITY if self.rng.random() < 0.5 else None
        parent_subject = Subject(
            human, 0, human, department, actions, True, cap, "resources" in scope
        )
        frontier = [(parent_subject, True)]
        for level in range(1, depth + 1):
            next_frontier: list[tuple[Subject, bool]] = []
            for parent, on_spine in frontier:
                children = (
                    self.shape.fanout if on_spine else int(self.rng.random() < 0.25)
                )
                for index in range(children):
                    child = self.add_delegation(parent, level, depth, scope)
                    next_frontier.append((child, on_spine and index == 0))
            frontier = next_frontier

    def add_delegation(
        self, parent: Subject, level: int, depth: int, scope: dict[str, tuple[str, ...]]
    ) -> Subject:
        target = self.new_agent(parent.human)
        actions = parent.actions
        if len(actions) > 1 and self.rng.random() < 0.3:
            actions = actions[:-1]
        draw = self.rng.random()
        revoked = draw < self.shape.revoked_share
        expired = (
            not revoked and draw < self.shape.revoked_share + self.shape.expired_share
        )
        conditional = self.rng.random() < self.shape.conditional_share
        self.delegations.append(
            Delegation(
                id=f"d{len(self.delegations) + 1}",
                source=parent.ref,
                target=target,
                actions=actions,
                resources=scope.get("resources"),
                resource_types=scope.get("resource_types"),
                max_sensitivity=parent.max_sensitivity,
                max_depth=depth - level,
                expires_at=EXPIRED_AT if expired else LIVE_UNTIL,
                condition=CONDITION if conditional else None,
                created_at=CREATED_AT,
                created_by=str(parent.ref),
                revoked_at=REVOKED_AT if revoked else None,
                revoked_by="user:bench" if revoked else None,
                revoke_reason="generated" if revoked else None,
            )
        )
        subject = Subject(
            target,
            level,
            parent.human,
            parent.department,
            actions,
            parent.live and not revoked and not expired,
            parent.max_sensitivity,
            parent.folder_scope,
        )
        self.subjects.append(subject)
        return subject

    def rigs(self) -> tuple[tuple[RevokeRig, ...], Document]:
        """Return the revoke rigs and the document of their agents and lower edges."""
        rigs = []
        principals = []
        delegations = []
        for number in range(self.shape.revoke_rigs):
            human, department = self.humans[number % len(self.humans)]
            agent = Ref("agent", f"rv-{number}")
            sub_agent = Ref("agent", f"rv-{number}-sub")
            principals.append(Principal(agent, owner=human))
            principals.append(Principal(sub_agent, owner=human))
            delegations.append(
                Delegation(
                    id=f"rv-{number}-down",
                    source=agent,
                    target=sub_agent,
                    actions=("read",),
                    resource_types=("document",),
                    expires_at=LIVE_UNTIL,
                    created_at=CREATED_AT,
                    created_by=str(agent),
                )
            )
            resource = self.rng.choice(self.department_documents[department])
            rigs.append(RevokeRig(human, agent, sub_agent, f"rv-{number}-up", resource))
        document = Document(
            principals=tuple(principals), delegations=tuple(delegations)
        )
        return tuple(rigs), document


def generate(shape: Shape) -> Organisation:
    """Build the organisation of ``shape``: the same shape always gives the same graph."""
    if shape.edges < 10:
        raise ValueError(f"edges={shape.edges} is too small; generate at least 10")
    builder = _Builder(shape, random.Random(shape.seed))
    builder.add_everyone()
    department = team = human = 0
    builder.add_department(department)
    team_group, project = builder.add_team(department, team)
    while builder.edges < shape.edges:
        if human and human % shape.humans_per_team == 0:
            team += 1
            if team == shape.teams_per_department:
                department += 1
                team = 0
                builder.add_department(department)
            team_group, project = builder.add_team(department, team)
        builder.add_human(human, department, team_group, project)
        human += 1
    rigs, rig_document = builder.rigs()
    document = Document(
        principals=tuple(builder.principals),
        resources=tuple(builder.resources),
        memberships=tuple(builder.memberships),
        grants=tuple(builder.grants),
        delegations=tuple(builder.delegations),
    )
    return Organisation(
        shape=shape,
        document=document,
        subjects=tuple(builder.subjects),
        department_documents=tuple(tuple(d) for d in builder.department_documents),
        sensitivities=builder.sensitivities,
        rigs=rigs,
        rig_document=rig_document,
    )


def _readable(
    organisation: Organisation, subject: Subject, documents: tuple[Ref, ...]
) -> list[Ref]:
    cap = subject.max_sensitivity
    if cap is None:
        return list(documents)
    return [d for d in documents if organisation.sensitivities[d] <= cap]


def allow_probes(organisation: Organisation, count: int, seed: int = 2) -> list[Probe]:
    """Return ``count`` requests that a live chain allows, spread over the subjects."""
    rng = random.Random(seed)
    live = organisation.live_subjects()
    probes: list[Probe] = []
    while live and len(probes) < count:
        subject = rng.choice(live)
        documents = organisation.department_documents[subject.department]
        readable = _readable(organisation, subject, documents)
        if not readable:
            continue
        request = CheckRequest(
            subject.ref,
            rng.choice(subject.actions),
            rng.choice(readable),
            context={"purpose": PURPOSE},
        )
        probes.append(Probe(request, subject.depth, expected_allowed=True))
    return probes


def deny_probes(organisation: Organisation, count: int, seed: int = 3) -> list[Probe]:
    """Return ``count`` requests that walk a whole live chain and then find no grant.

    The subject requests an action its chain carries, on a document of
    another department, on which its human has no grant. So the query
    expands every edge up to the human and its groups before it denies.
    Only chains scoped to the ``document`` type are used, because a chain
    scoped to the human's own folder stops at its first edge.
    """
    rng = random.Random(seed)
    live = [s for s in organisation.live_subjects() if not s.folder_scope]
    departments = len(organisation.department_documents)
    probes: list[Probe] = []
    if departments < 2:
        return probes
    while live and len(probes) < count:
        subject = rng.choice(live)
        other = (subject.department + rng.randint(1, departments - 1)) % departments
        documents = organisation.department_documents[other]
        readable = _readable(organisation, subject, documents)
        if not readable:
            continue
        request = CheckRequest(
            subject.ref,
            rng.choice(subject.actions),
            rng.choice(readable),
            context={"purpose": PURPOSE},
        )
        probes.append(Probe(request, subject.depth, expected_allowed=False))
    return probes
