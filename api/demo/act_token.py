"""RFC 8693-style access tokens that carry a delegation chain in nested ``act`` claims.

The demo mints one with pyjwt, as an agent platform's token service would,
to show that a token freezes the chain at the moment it is issued. The
outermost ``act`` names the current actor; each nested ``act`` names the
actor before it (RFC 8693, section 4.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"
ISSUER = "delegraph-demo-token-service"
AUDIENCE = "delegraph-demo"


@dataclass(frozen=True)
class SigningKey:
    """A P-256 key pair of the demo token service, generated for one run."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def public_pem(self) -> str:
        """Return the public key as PEM text, the form introspection settings take."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        ).decode()


def act_claim(actors: Sequence[str]) -> dict[str, Any]:
    """Nest ``actors`` (first delegate first, current actor last) as ``act`` claims."""
    if not actors:
        raise ValueError("an act claim needs at least one actor")
    claim: dict[str, Any] = {"sub": actors[0]}
    for actor in actors[1:]:
        claim = {"sub": actor, "act": claim}
    return claim


def actors_of(claims: dict[str, Any]) -> list[str]:
    """Return the actors of a token's ``act`` claim, first delegate first."""
    actors: list[str] = []
    act = claims.get("act")
    while isinstance(act, dict):
        actors.append(str(act["sub"]))
        act = act.get("act")
    return list(reversed(actors))


def mint(
    key: SigningKey,
    subject: str,
    actors: Sequence[str],
    actions: Sequence[str],
    issued_at: datetime,
    lifetime: timedelta,
) -> str:
    """Sign a token for ``subject`` acting through ``actors`` with ``actions`` as scope."""
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "act": act_claim(actors),
        "scope": " ".join(actions),
        "iat": int(issued_at.timestamp()),
        "nbf": int(issued_at.timestamp()),
        "exp": int((issued_at + lifetime).timestamp()),
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM)


def verify(token: str, key: SigningKey) -> dict[str, Any]:
    """Verify signature, issuer, audience and expiry; raise jwt.InvalidTokenError."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key.public_key,
        algorithms=[ALGORITHM],
        issuer=ISSUER,
        audience=AUDIENCE,
        options={"require": ["exp", "iat", "sub", "act"]},
    )
    return claims
