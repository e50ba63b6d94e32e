"""Token introspection in the shape of RFC 7662, decided against the live graph.

A token is a JWT whose ``sub`` is the principal on whose behalf it acts and
whose nested ``act`` claims (RFC 8693 section 4.1) name the actors: the
outermost ``act`` is the current actor, each inner ``act`` the actor before
it. The chain is therefore ``sub -> innermost act -> ... -> outermost act``,
and every claim value is a principal ref such as ``agent:planner``.

``active`` is true only when the signature and the ``iss``, ``aud``, ``exp``
and ``nbf`` claims verify, ``may_act`` (if present) names the current actor,
and the graph holds, for each hop of that chain, a delegation edge that is
unrevoked, inside its time window and within its ``max_depth``, between
principals that exist and are enabled, and the chain carries at least one
action the token claims in ``scope`` (any action, when it claims none).

An action is carried when the subject holds it through a live grant, its own
or a group's, and every hop has a usable edge that contains it. Resource
scopes and sensitivity limits of the edges are not compared with the grants'
resources here, because a token names no resource; a check on a given
resource still applies them. Conditions cannot be evaluated without a
request, so an action that depends on one is listed in
``conditional_actions`` and counts as carried.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from delegraph.cypher.queries import bounded_query, query
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.graph import native_time
from delegraph.engine.refs import PRINCIPAL_KINDS, parse_principal
from neo4j import ManagedTransaction

if TYPE_CHECKING:
    from delegraph.engine.service import Engine

QUERIES = "introspect.cypher"
DEFAULT_LEEWAY = 30.0
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = ("ES256", "ES384", "ES512")
EDDSA_ALGORITHMS = ("EdDSA",)
STANDARD_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "act")


class InvalidToken(Exception):
    """A token that failed verification; the message names the failed check."""


# Keys.


@dataclass(frozen=True)
class VerificationKey:
    """A key and the JWS algorithms it may verify; ``kid`` is None for a PEM key."""

    key: Any
    algorithms: tuple[str, ...]
    kid: str | None = None


@dataclass(frozen=True)
class IntrospectionKeys:
    """The issuer keys and the claims that introspected tokens must carry."""

    keys: tuple[VerificationKey, ...]
    issuer: str | None = None
    audience: str | None = None
    leeway: float = DEFAULT_LEEWAY

    @classmethod
    def load(
        cls,
        public_key: str | None = None,
        jwks_file: str | None = None,
        secret: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = DEFAULT_LEEWAY,
    ) -> IntrospectionKeys:
        """Load a PEM public key (text or path), a JWKS file and an HMAC secret.

        Raises InvalidRequest naming the setting when none is given or a key
        cannot be read.
        """
        keys: list[VerificationKey] = []
        if public_key:
            keys.append(_pem_key(public_key))
        if jwks_file:
            keys.extend(_jwks_keys(jwks_file))
        if secret:
            keys.append(VerificationKey(secret, HMAC_ALGORITHMS))
        if not keys:
            raise InvalidRequest(
                "no issuer key is configured for token introspection; set "
                "DELEGRAPH_INTROSPECT_PUBLIC_KEY or DELEGRAPH_INTROSPECT_JWKS_FILE",
                "DELEGRAPH_INTROSPECT_PUBLIC_KEY",
                None,
            )
        return cls(tuple(keys), issuer, audience, leeway)


def _pem_key(value: str) -> VerificationKey:
    setting = "DELEGRAPH_INTROSPECT_PUBLIC_KEY"
    text = value if value.lstrip().startswith("-----BEGIN") else _read(value, setting)
    try:
        key = load_pem_public_key(text.encode())
    except ValueError as error:
        raise InvalidRequest(
            f"{setting} is not a PEM public key: {error}", setting, None
        ) from error
    return VerificationKey(key, _algorithms_of(key, setting))


def _algorithms_of(key: Any, setting: str) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return EC_ALGORITHMS
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return EDDSA_ALGORITHMS
    raise InvalidRequest(
        f"{setting} is an unsupported {type(key).__name__}; use an RSA, EC or Ed25519 key",
        setting,
        None,
    )


def _jwks_keys(path: str) -> list[VerificationKey]:
    setting = "DELEGRAPH_INTROSPECT_JWKS_FILE"
    try:
        key_set = jwt.PyJWKSet.from_json(_read(path, setting))
    except (jwt.PyJWKSetError, json.JSONDecodeError) as error:
        raise InvalidRequest(
            f"{setting} {path!r} is not a usable JWKS: {error}", setting, path
        ) from error
    keys = []
    for jwk in key_set.keys:
        if jwk.algorithm_name in HMAC_ALGORITHMS:
            continue
        keys.append(VerificationKey(jwk.key, (jwk.algorithm_name,), jwk.key_id))
    return keys


def _read(path: str, setting: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise InvalidRequest(
            f"{setting} {path!r} cannot be read: {error.strerror}", setting, path
        ) from error


def verify(token: str, keys: IntrospectionKeys) -> dict[str, Any]:
    """Return the claims of a token that verifies, else raise InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as error:
        raise InvalidToken(f"token is not a JWT: {error}") from error
    algorithm = header.get("alg")
    if not isinstance(algorithm, str):
        raise InvalidToken("token header has no alg")
    kid = header.get("kid")

    candidates = [
        k
        for k in keys.keys
        if algorithm in k.algorithms and (kid is None or k.kid in (None, kid))
    ]
    if not candidates:
        raise InvalidToken(
            f"no configured key verifies alg {algorithm!r}"
            + ("" if kid is None else f" with kid {kid!r}")
        )

    required = ["exp", "sub"]
    if keys.issuer is not None:
        required.append("iss")
    if keys.audience is not None:
        required.append("aud")

    failure: jwt.InvalidTokenError | None = None
    for candidate in candidates:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                candidate.key,
                algorithms=[algorithm],
                issuer=keys.issuer,
                audience=keys.audience,
                leeway=keys.leeway,
                options={"require": required, "verify_aud": keys.audience is not None},
            )
        except jwt.InvalidSignatureError as error:
            failure = error
            continue
        except jwt.InvalidTokenError as error:
            raise InvalidToken(str(error)) from error
        return claims
    raise InvalidToken(f"signature verification failed: {failure}")


# The chain a token claims.


@dataclass(frozen=True)
class ClaimedChain:
    """The principals a token names, subject first and current actor last."""

    principals: tuple[str, ...]
    scope: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.principals[0]

    @property
    def actor(self) -> str:
        return self.principals[-1]


def claimed_chain(claims: Mapping[str, Any], max_chain: int) -> ClaimedChain:
    """Read ``sub`` and the nested ``act`` claims; raise InvalidToken if malformed."""
    actors: list[str] = []
    act = claims.get("act")
    while act is not None:
        if not isinstance(act, Mapping) or "sub" not in act:
            raise InvalidToken("act claim must be an object with a sub")
        actors.append(_principal(act["sub"], "act.sub"))
        act = act.get("act")
        if len(actors) > max_chain:
            raise InvalidToken(
                f"act chain is longer than the maximum chain length {max_chain}"
            )
    principals = (_principal(claims["sub"], "sub"), *reversed(actors))
    if len(set(principals)) != len(principals):
        raise InvalidToken(
            f"act chain visits a principal twice: {' -> '.join(principals)}"
        )
    may_act = claims.get("may_act")
    if may_act is not None:
        if not isinstance(may_act, Mapping) or "sub" not in may_act:
            raise InvalidToken("may_act claim must be an object with a sub")
        allowed = _principal(may_act["sub"], "may_act.sub")
        if len(principals) > 1 and principals[-1] != allowed:
            raise InvalidToken(
                f"current actor {principals[-1]} is not the may_act principal {allowed}"
            )
    return ClaimedChain(principals, _scope(claims.get("scope")))


def _principal(value: Any, claim: str) -> str:
    try:
        ref = parse_principal(value, claim, PRINCIPAL_KINDS)
    except InvalidRequest as error:
        raise InvalidToken(f"{claim} claim: {error.message}") from error
    if ref.is_wildcard:
        raise InvalidToken(f"{claim} claim {value!r} is a wildcard, not one principal")
    return str(ref)


def _scope(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(dict.fromkeys(value.split()))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(dict.fromkeys(value))
    raise InvalidToken(
        "scope claim must be a space-separated string or a list of strings"
    )


# The answer.


@dataclass(frozen=True)
class Problem:
    """Why a chain is not live: a stable ``code``, a message, and what it names."""

    code: str
    message: str
    delegation: str | None = None
    principal: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for name in ("delegation", "principal", "revoked_by", "revoke_reason"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.revoked_at is not None:
            out["revoked_at"] = self.revoked_at.isoformat()
        return out


@dataclass(frozen=True)
class Introspection:
    """The introspection response: RFC 7662 members plus the live-graph verdict.

    ``delegations`` lists, per hop, the ids of the usable edges.
    ``stale_claims`` are the scope actions that the chain no longer carries.
    ``error`` names why a token failed verification (claims are then empty).
    """

    active: bool
    claims: Mapping[str, Any] = field(default_factory=dict)
    principals: tuple[str, ...] = ()
    delegations: tuple[tuple[str, ...], ...] = ()
    effective_actions: tuple[str, ...] = ()
    conditional_actions: tuple[str, ...] = ()
    stale_claims: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the response body; a token that failed verification gets only
        ``active: false`` and the error."""
        if self.error is not None:
            return {"active": False, "error": self.error}
        body: dict[str, Any] = {"active": self.active, "token_type": "Bearer"}
        for name in STANDARD_CLAIMS:
            if name in self.claims:
                body[name] = self.claims[name]
        if "scope" in self.claims:
            body["scope"] = self.claims["scope"]
        body["chain"] = {
            "principals": list(self.principals),
            "delegations": [list(ids) for ids in self.delegations],
        }
        body["effective_actions"] = list(self.effective_actions)
        body["conditional_actions"] = list(self.conditional_actions)
        body["stale_claims"] = list(self.stale_claims)
        body["problems"] = [p.as_dict() for p in self.problems]
        return body


def introspect(
    engine: Engine,
    token: str,
    keys: IntrospectionKeys,
    consistency_token: str | None = None,
) -> Introspection:
    """Verify ``token`` and judge the chain it claims against the live graph."""
    try:
        claims = verify(token, keys)
        chain = claimed_chain(claims, engine.config.max_chain)
    except InvalidToken as error:
        return Introspection(active=False, error=str(error))

    now = engine.clock()
    hops, grants = _read_graph(engine, chain, now, consistency_token)
    problems = list(_principal_problems(hops))
    usable: list[list[dict[str, Any]]] = []
    for index in range(1, len(chain.principals)):
        edges, edge_problems = _judge_hop(hops[index], index, len(hops) - 1, now)
        usable.append(edges)
        problems.extend(edge_problems)

    carried, conditional = _carried_actions(grants, usable)
    if problems:
        carried, conditional = set(), set()
    claimed = chain.scope
    stale = tuple(a for a in claimed if a not in carried)
    live_claims = [a for a in claimed if a in carried] if claimed else sorted(carried)
    return Introspection(
        active=not problems and bool(live_claims),
        claims=claims,
        principals=chain.principals,
        delegations=tuple(tuple(e["id"] for e in edges) for edges in usable),
        effective_actions=tuple(sorted(carried)),
        conditional_actions=tuple(sorted(conditional)),
        stale_claims=stale,
        problems=tuple(problems),
    )


def _read_graph(
    engine: Engine, chain: ClaimedChain, now: datetime, consistency_token: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    hops_text = query(QUERIES, "chain_hops")
    grants_text = bounded_query(
        QUERIES, "held_grants", GROUP_DEPTH=engine.config.max_group_depth
    )

    def work(
        tx: ManagedTransaction,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        hops = [
            record.data() for record in tx.run(hops_text, refs=list(chain.principals))
        ]
        grants = [
            record.data()
            for record in tx.run(grants_text, subject=chain.subject, now=now)
        ]
        return hops, grants

    return engine.store.read(work, consistency_token)


def _principal_problems(hops: Sequence[Mapping[str, Any]]) -> Iterable[Problem]:
    for hop in hops:
        if not hop["found"]:
            yield Problem(
                "unknown_principal",
                f"{hop['ref']} is not in the graph",
                principal=hop["ref"],
            )
        elif hop["disabled"]:
            yield Problem("disabled", f"{hop['ref']} is disabled", principal=hop["ref"])


def _judge_hop(
    hop: Mapping[str, Any], index: int, length: int, now: datetime
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Return the usable edges into principal ``index``, or why none is usable."""
    source_target = f"from the principal before {hop['ref']} to {hop['ref']}"
    if not hop["edges"]:
        return [], [
            Problem(
                "no_delegation",
                f"no delegation leads {source_target}",
                principal=hop["ref"],
            )
        ]
    usable: list[dict[str, Any]] = []
    reasons: list[Problem] = []
    for edge in hop["edges"]:
        reason = _edge_problem(edge, length - index, now)
        if reason is None:
            usable.append(edge)
        else:
            reasons.append(reason)
    return usable, ([] if usable else reasons)


def _edge_problem(edge: Mapping[str, Any], after: int, now: datetime) -> Problem | None:
    """Judge one edge at a hop with ``after`` edges below it; None if usable."""
    ident = edge["id"]
    revoked_at = native_time(edge.get("revoked_at"))
    if revoked_at is not None:
        return Problem(
            "revoked",
            f"delegation {ident!r} was revoked at {revoked_at.isoformat()} "
            f"by {edge.get('revoked_by')}",
            delegation=ident,
            revoked_at=revoked_at,
            revoked_by=edge.get("revoked_by"),
            revoke_reason=edge.get("revoke_reason"),
        )
    not_before = native_time(edge.get("not_before"))
    if not_before is not None and now < not_before:
        return Problem(
            "not_yet_valid",
            f"delegation {ident!r} is valid from {not_before.isoformat()}",
            delegation=ident,
        )
    expires_at = native_time(edge.get("expires_at"))
    if expires_at is not None and now >= expires_at:
        return Problem(
            "expired",
            f"delegation {ident!r} expired at {expires_at.isoformat()}",
            delegation=ident,
        )
    max_depth = edge.get("max_depth") or 0
    if max_depth < after:
        return Problem(
            "depth_exceeded",
            f"delegation {ident!r} allows {max_depth} further hops, the chain has "
            f"{after} below it",
            delegation=ident,
        )
    return None


def _carried_actions(
    grants: Sequence[Mapping[str, Any]], hops: Sequence[Sequence[Mapping[str, Any]]]
) -> tuple[set[str], set[str]]:
    """Return the actions the chain carries and those among them that need a condition."""
    held_actions: dict[str, bool] = {}
    for grant in grants:
        for action in grant["actions"]:
            unconditional = grant["condition"] is None
            held_actions[action] = held_actions.get(action, False) or unconditional

    carried: set[str] = set()
    conditional: set[str] = set()
    for action, grant_unconditional in held_actions.items():
        needs_condition = not grant_unconditional
        for edges in hops:
            with_action = [e for e in edges if action in e["actions"]]
            if not with_action:
                break
            if all(e.get("condition") is not None for e in with_action):
                needs_condition = True
        else:
            carried.add(action)
            if needs_condition:
                conditional.add(action)
    return carried, conditional
