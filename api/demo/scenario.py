"""The narrated scenario of ``delegraph demo``, run with real engine calls.

Each step prints what it does and what came back, and records a
:class:`Step` whose ``ok`` is true when the outcome is the one the story
expects, so the tests can assert every step and the demo can exit non-zero
when one goes wrong. The steps run in order on the freshly loaded demo
organisation (org.yaml) and change it: they revoke one delegation and
disable one agent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from delegraph.api import render
from delegraph.api.demo import act_token
from delegraph.engine.introspect import (
    Introspection,
    IntrospectionKeys,
    VerificationKey,
)
from delegraph.engine.model import CheckRequest, Decision
from delegraph.engine.refs import parse_principal, parse_resource
from delegraph.engine.service import Engine
from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

# The story's cast, all defined in org.yaml.
HUMAN = "user:alice"
CHAIN_AGENT = "agent:ocr-worker"
CHAIN_ACTORS = ("agent:finance-copilot", "agent:invoice-agent", CHAIN_AGENT)
TOP_DELEGATION = "d-alice-copilot"
INVOICE = "document:invoice-1003"
RESPONDER = "user:grace"
TRACED_AGENT = "agent:test-runner"
COMPROMISED_AGENT = "agent:sales-assistant"
COMPROMISED_SUB_AGENT = "agent:research-crawler"
CRM_RECORD = "record:acme"
DEPUTY = "agent:calendar-assistant"
DEPUTY_DATA = "document:interview-schedule"
DATA_OWNER = "user:erin"
OTHER_HUMAN = "user:frank"
SCHEDULING = {"purpose": "scheduling"}
TOKEN_LIFETIME = timedelta(hours=1)


@dataclass
class Step:
    """One step of the scenario: what it showed and whether that was expected."""

    key: str
    title: str
    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


def request(
    subject: str,
    action: str,
    resource: str,
    on_behalf_of: str | None = None,
    context: dict[str, Any] | None = None,
) -> CheckRequest:
    return CheckRequest(
        subject=parse_principal(subject, "subject"),
        action=action,
        resource=parse_resource(resource, "resource"),
        context=dict(context or {}),
        on_behalf_of=None
        if on_behalf_of is None
        else parse_principal(on_behalf_of, "on_behalf_of"),
    )


class Scenario:
    """The narrated steps, run in order against ``engine`` and printed on ``console``."""

    def __init__(self, engine: Engine, console: Console) -> None:
        self.engine = engine
        self.console = console
        self.steps: list[Step] = []
        self.signing_key = act_token.SigningKey.generate()
        self.introspection_keys = IntrospectionKeys(
            keys=(
                VerificationKey(self.signing_key.public_key, (act_token.ALGORITHM,)),
            ),
            issuer=act_token.ISSUER,
            audience=act_token.AUDIENCE,
        )
        self.token: str | None = None

    def run(self) -> list[Step]:
        plan: list[Callable[[], None]] = [
            self.chain_allowed,
            self.token_issued,
            self.top_delegation_revoked,
            self.token_still_verifies,
            self.check_after_revoke,
            self.token_introspection,
            self.explain_deny,
            self.accountability_trace,
            self.blast_radius,
            self.disable_compromised,
            self.confused_deputy,
        ]
        for step in plan:
            step()
        failed = [s.key for s in self.steps if not s.ok]
        self.console.rule("scenario finished")
        if failed:
            self.console.print(f"[red]unexpected outcome in: {', '.join(failed)}[/]")
        else:
            self.console.print(f"[green]all {len(self.steps)} steps as expected[/]")
        return self.steps

    # Output helpers.
    def _begin(self, title: str, story: str) -> None:
        number = len(self.steps) + 1
        self.console.print()
        self.console.rule(f"[bold]Step {number}. {title}")
        self.console.print(Text(story, style="italic"))

    def _record(self, step: Step) -> None:
        if step.ok:
            mark = Text("as expected", style="green")
        else:
            mark = Text("UNEXPECTED", style="bold red")
        self.console.print(Text.assemble("=> ", mark, ": ", step.summary))
        self.steps.append(step)

    def _check(self, check_request: CheckRequest) -> Decision:
        decision = self.engine.check(check_request)
        call_text = f"check({check_request.subject}, {check_request.action!r}, {check_request.resource}"
        if check_request.on_behalf_of is not None:
            call_text += f", on_behalf_of={check_request.on_behalf_of}"
        if check_request.context:
            call_text += f", context={json.dumps(check_request.context)}"
        self.console.print(call_text + ")")
        self.console.print(render.decision_view(decision))
        return decision

    def _introspect(self) -> Introspection:
        assert self.token is not None
        result = self.engine.introspect(self.token, self.introspection_keys)
        body = result.as_dict()
        summary_fields = {
            name: body[name]
            for name in ("active", "effective_actions", "stale_claims", "problems")
            if name in body
        }
        self.console.print("introspect(token) ->")
        self.console.print(
            Syntax(
                json.dumps(summary_fields, indent=2, default=str),
                "json",
                word_wrap=True,
            )
        )
        return result

    # The steps.
    def chain_allowed(self) -> None:
        self._begin(
            "An agent chain acts on behalf of a human",
            f"{HUMAN} delegated finance work to agent:finance-copilot, which handed "
            f"invoices to agent:invoice-agent, which handed reading to {CHAIN_AGENT}. "
            f"The OCR worker reads an invoice for {HUMAN}.",
        )
        decision = self._check(request(CHAIN_AGENT, "read", INVOICE, HUMAN))
        chain = decision.chain
        principals = list(chain.principals) if chain else []
        self._record(
            Step(
                "chain_allowed",
                "agent chain allowed",
                decision.allowed and principals == [HUMAN, *CHAIN_ACTORS],
                f"{'allowed' if decision.allowed else 'denied'} through "
                f"{' -> '.join(principals) or 'no chain'}",
                {
                    "allowed": decision.allowed,
                    "principals": principals,
                    "delegations": list(chain.delegations) if chain else [],
                },
            )
        )

    def token_issued(self) -> None:
        self._begin(
            "A JWT freezes that chain",
            "The agent platform's token service issues an RFC 8693 token: sub is the "
            "human, the nested act claims are the agent chain (the outermost act is "
            "the current actor), scope is the actions.",
        )
        now = self.engine.clock()
        self.token = act_token.mint(
            self.signing_key, HUMAN, CHAIN_ACTORS, ["read"], now, TOKEN_LIFETIME
        )
        claims = jwt.decode(self.token, options={"verify_signature": False})
        self.console.print(Syntax(json.dumps(claims, indent=2), "json", word_wrap=True))
        actors = act_token.actors_of(claims)
        introspection = self._introspect()
        self._record(
            Step(
                "token_issued",
                "RFC 8693 token issued",
                claims["sub"] == HUMAN
                and actors == list(CHAIN_ACTORS)
                and introspection.active,
                f"token for {claims['sub']} acting through {' -> '.join(actors)}, "
                f"expires {_timestamp(claims['exp'])}; introspection: active "
                f"{str(introspection.active).lower()}",
                {
                    "sub": claims["sub"],
                    "actors": actors,
                    "scope": claims["scope"],
                    "active": introspection.active,
                },
            )
        )

    def top_delegation_revoked(self) -> None:
        self._begin(
            "The top delegation is revoked",
            f"{RESPONDER} from security learns that agent:finance-copilot leaked a "
            f"session and revokes {TOP_DELEGATION}, the edge from {HUMAN}.",
        )
        revocation = self.engine.revoke(
            TOP_DELEGATION, RESPONDER, "finance-copilot leaked a session"
        )
        self.console.print(render.revocation_view(revocation))
        lost = list(revocation.impact.lost_access)
        self._record(
            Step(
                "revoked",
                "top delegation revoked",
                not revocation.already_revoked and CHAIN_AGENT in lost,
                f"{TOP_DELEGATION} revoked; {len(lost)} agents lost all access",
                {"lost_access": lost},
            )
        )

    def token_still_verifies(self) -> None:
        self._begin(
            "The JWT still verifies",
            "A resource server that trusts the token alone sees nothing wrong: the "
            "signature is good and the token has not expired.",
        )
        assert self.token is not None
        now = self.engine.clock()
        try:
            claims = act_token.verify(self.token, self.signing_key)
        except jwt.InvalidTokenError as error:
            self._record(
                Step(
                    "token_verifies",
                    "token still verifies",
                    False,
                    f"token rejected: {error}",
                )
            )
            return
        unexpired = now.timestamp() < claims["exp"]
        self.console.print(
            f"signature valid (ES256), iss={claims['iss']}, aud={claims['aud']}, "
            f"exp={_timestamp(claims['exp'])}, now={now.isoformat(timespec='seconds')}"
        )
        self._record(
            Step(
                "token_verifies",
                "token still verifies",
                unexpired,
                "the token verifies and is unexpired"
                if unexpired
                else "the token has expired",
                {"verified": True, "unexpired": unexpired},
            )
        )

    def check_after_revoke(self) -> None:
        self._begin(
            "The very next check denies",
            "delegraph decides against the live graph, not the token.",
        )
        decision = self._check(request(CHAIN_AGENT, "read", INVOICE, HUMAN))
        self._record(
            Step(
                "denied_after_revoke",
                "check denies after revoke",
                not decision.allowed,
                "denied" if not decision.allowed else "still allowed",
                {"allowed": decision.allowed, "reason": decision.reason},
            )
        )

    def token_introspection(self) -> None:
        self._begin(
            "Token introspection",
            "Introspection (RFC 7662 shape) verifies the token, then checks its act "
            "chain against the live graph.",
        )
        result = self._introspect()
        revoked = [p.delegation for p in result.problems if p.code == "revoked"]
        self._record(
            Step(
                "introspection",
                "token introspection",
                not result.active and TOP_DELEGATION in revoked,
                f"active: {str(result.active).lower()}; stale claims: "
                f"{', '.join(result.stale_claims) or 'none'}; revoked edges: "
                f"{', '.join(str(r) for r in revoked) or 'none'}",
                {
                    "active": result.active,
                    "stale_claims": list(result.stale_claims),
                    "revoked": revoked,
                },
            )
        )

    def explain_deny(self) -> None:
        self._begin(
            "Explain the deny",
            "explain lists every candidate chain with a verdict per edge.",
        )
        explanation = self.engine.explain(request(CHAIN_AGENT, "read", INVOICE, HUMAN))
        self.console.print(render.explanation_view(explanation))
        broken = [
            (edge.delegation, problem.code)
            for chain in explanation.chains
            for edge in chain.edges
            for problem in edge.problems
        ]
        names_revoked = (TOP_DELEGATION, "revoked") in broken
        self._record(
            Step(
                "explained",
                "explain names the revoked edge",
                not explanation.allowed and names_revoked,
                f"{explanation.code}: {explanation.reason}",
                {
                    "allowed": explanation.allowed,
                    "code": explanation.code,
                    "reason": explanation.reason,
                    "broken_edges": broken,
                },
            )
        )

    def accountability_trace(self) -> None:
        self._begin(
            "Who is accountable for an agent",
            f"{TRACED_AGENT} is a sub-sub-agent in engineering. Its live chains lead "
            "back to the humans who delegated, and every agent on them has an owner.",
        )
        accountability = self.engine.accountability(
            parse_principal(TRACED_AGENT, "agent")
        )
        self.console.print(render.accountability_view(accountability))
        roots = sorted({chain.principals[0] for chain in accountability.chains})
        self._record(
            Step(
                "accountability",
                "accountability trace",
                roots == ["user:carol", "user:dan"],
                f"{len(accountability.chains)} live chains, from {', '.join(roots)}; "
                f"accountable humans: {', '.join(accountability.humans)}",
                {
                    "chain_roots": roots,
                    "chains": [list(c.principals) for c in accountability.chains],
                    "humans": list(accountability.humans),
                },
            )
        )

    def blast_radius(self) -> None:
        self._begin(
            "Blast radius of a compromised agent",
            f"{COMPROMISED_AGENT} ran a prompt-injected page. Everything it (and its "
            f"sub-agent {COMPROMISED_SUB_AGENT}) can do right now:",
        )
        entries = list(
            self.engine.reach(parse_principal(COMPROMISED_AGENT, "agent"), 1000).items
        )
        below = list(
            self.engine.reach(
                parse_principal(COMPROMISED_SUB_AGENT, "agent"), 1000
            ).items
        )
        self.console.print(render.reach_table(entries, f"reach of {COMPROMISED_AGENT}"))
        self.console.print(
            render.reach_table(below, f"reach of {COMPROMISED_SUB_AGENT}")
        )
        self._record(
            Step(
                "blast_radius",
                "blast radius listed",
                bool(entries) and bool(below),
                f"{len(entries)} (resource, action) pairs for {COMPROMISED_AGENT}, "
                f"{len(below)} for {COMPROMISED_SUB_AGENT}",
                {
                    "reach": [(e.resource, e.action) for e in entries],
                    "sub_agent_reach": [(e.resource, e.action) for e in below],
                },
            )
        )

    def disable_compromised(self) -> None:
        self._begin(
            "Kill switch",
            f"{RESPONDER} disables {COMPROMISED_AGENT}; every chain through it is cut.",
        )
        result = self.engine.disable(
            parse_principal(COMPROMISED_AGENT, "agent"), RESPONDER
        )
        self.console.print(render.switch_view(result))
        remaining = self.engine.reach(
            parse_principal(COMPROMISED_SUB_AGENT, "agent"), 1000
        ).items
        decision = self._check(request(COMPROMISED_SUB_AGENT, "read", CRM_RECORD))
        lost = list(result.impact.lost_access)
        self._record(
            Step(
                "disabled",
                "compromised agent disabled",
                not result.unchanged
                and COMPROMISED_SUB_AGENT in lost
                and not remaining
                and not decision.allowed,
                f"{COMPROMISED_AGENT} disabled; {COMPROMISED_SUB_AGENT} reach is now "
                f"{len(remaining)} and its check is "
                f"{'allowed' if decision.allowed else 'denied'}",
                {
                    "lost_access": lost,
                    "sub_agent_reach_after": len(remaining),
                    "sub_agent_allowed": decision.allowed,
                },
            )
        )

    def confused_deputy(self) -> None:
        self._begin(
            "Confused deputy",
            f"{DEPUTY} serves both {DATA_OWNER} (HR) and {OTHER_HUMAN} (sales). Asked "
            f"by {OTHER_HUMAN}, it tries to read {DATA_OWNER}'s {DEPUTY_DATA}.",
        )
        attempt = request(DEPUTY, "read", DEPUTY_DATA, OTHER_HUMAN, SCHEDULING)
        denied = self._check(attempt)
        explanation = self.engine.explain(attempt)
        self.console.print(f"explain: {explanation.code}: {explanation.reason}")
        self.console.print(Text(f"The same read on behalf of {DATA_OWNER}:"))
        allowed = self._check(
            request(DEPUTY, "read", DEPUTY_DATA, DATA_OWNER, SCHEDULING)
        )
        self._record(
            Step(
                "confused_deputy",
                "confused deputy denied",
                not denied.allowed and allowed.allowed,
                f"on behalf of {OTHER_HUMAN}: "
                f"{'allowed' if denied.allowed else 'denied'} ({explanation.code}); "
                f"on behalf of {DATA_OWNER}: "
                f"{'allowed' if allowed.allowed else 'denied'}",
                {
                    "other_allowed": denied.allowed,
                    "other_code": explanation.code,
                    "owner_allowed": allowed.allowed,
                },
            )
        )


def _timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
