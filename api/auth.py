"""Caller authentication: bearer JWTs verified with pyjwt.

Keys come from the settings: an HS256 secret, an RS256 or ES256 public key
(PEM text or a path to a PEM file), or a JWKS file. Each key accepts only the
algorithm of its own kind, so a token signed with ``alg: none`` or with HS256
over a public key (algorithm confusion) fails verification.

Claims: ``sub`` (a principal ref such as ``agent:x``, or a service name),
``roles`` (a list of ``check`` and ``admin``), ``exp`` (required), and
``iss``/``aud`` when the settings name them.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from delegraph.api.problems import Problem
from delegraph.api.settings import Settings
from delegraph.engine.refs import Ref
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

logger = logging.getLogger("delegraph.api")

ROLES = ("check", "admin")
LEEWAY_SECONDS = 30
# How many verified tokens a TokenVerifier remembers (see TokenVerifier.verify).
VERIFIED_TOKENS = 1024
REALM = 'Bearer realm="delegraph"'


class AuthConfigError(Exception):
    """The settings do not give a usable key while authentication is on."""


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: its ``sub`` claim and the roles it holds."""

    subject: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def may_check(self) -> bool:
        return self.is_admin or "check" in self.roles

    def is_principal(self, ref: Ref) -> bool:
        """Return True when the token's ``sub`` names exactly ``ref``."""
        return self.subject == str(ref)


ANONYMOUS_ADMIN = Caller("auth-off", frozenset(ROLES))


@dataclass(frozen=True)
class _Key:
    key: Any
    algorithm: str


class TokenVerifier:
    """Verify bearer tokens against the keys that the settings configure."""

    def __init__(self, settings: Settings) -> None:
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.secret: _Key | None = None
        self.public_key: _Key | None = None
        self.jwks: dict[str | None, _Key] = {}
        if settings.jwt_secret:
            self.secret = _Key(settings.jwt_secret, "HS256")
        if settings.jwt_public_key:
            self.public_key = _load_public_key(settings.jwt_public_key)
        if settings.jwks_file:
            self.jwks = _load_jwks(Path(settings.jwks_file))
        self._verified = functools.lru_cache(maxsize=VERIFIED_TOKENS)(self._verify)

    @property
    def configured(self) -> bool:
        return self.secret is not None or self.public_key is not None or bool(self.jwks)

    def verify(self, token: str) -> Caller:
        """Return the caller of a valid token or raise ``jwt.InvalidTokenError``.

        A PEP sends the same token with every request, so a token that
        verified is remembered with its expiry, up to VERIFIED_TOKENS of
        them. Later requests with it check only the expiry, because parsing
        and checking the signature cost about 0.6 ms per request under
        cProfile. A token that failed is not remembered.
        """
        caller, expires = self._verified(token)
        if time.time() > expires + LEEWAY_SECONDS:
            raise jwt.ExpiredSignatureError("Signature has expired")
        return caller

    def _verify(self, token: str) -> tuple[Caller, float]:
        key = self._key_for(jwt.get_unverified_header(token))
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={
                "require": ["exp", "sub"],
                "verify_aud": self.audience is not None,
            },
        )
        caller = Caller(str(claims["sub"]), _roles(claims.get("roles", [])))
        return caller, float(claims["exp"])

    def _key_for(self, header: dict[str, Any]) -> _Key:
        algorithm = header.get("alg")
        if self.secret is not None and algorithm == self.secret.algorithm:
            return self.secret
        if self.public_key is not None and algorithm == self.public_key.algorithm:
            return self.public_key
        if self.jwks:
            kid = header.get("kid")
            key = self.jwks.get(kid) or (
                next(iter(self.jwks.values()))
                if kid is None and len(self.jwks) == 1
                else None
            )
            if key is None:
                raise jwt.InvalidTokenError(f"no key with kid {kid!r} in the JWKS file")
            if algorithm == key.algorithm:
                return key
        raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")


def _roles(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise jwt.InvalidTokenError("the roles claim must be a list of strings")
    return frozenset(role for role in value if role in ROLES)


def _load_public_key(value: str) -> _Key:
    """Load a PEM public key given as text or as a path to a PEM file."""
    text = (
        value
        if "-----BEGIN" in value
        else _read(Path(value), "DELEGRAPH_JWT_PUBLIC_KEY")
    )
    try:
        key = load_pem_public_key(text.encode())
    except ValueError as error:
        raise AuthConfigError(
            f"DELEGRAPH_JWT_PUBLIC_KEY is not a PEM public key: {error}"
        ) from error
    if isinstance(key, rsa.RSAPublicKey):
        return _Key(key, "RS256")
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return _Key(key, "ES256")
    raise AuthConfigError(
        "DELEGRAPH_JWT_PUBLIC_KEY must be an RSA key (RS256) or a P-256 EC key (ES256)"
    )


def _load_jwks(path: Path) -> dict[str | None, _Key]:
    """Load the RSA and P-256 EC keys of a JWKS file, keyed by ``kid``."""
    try:
        document = json.loads(_read(path, "DELEGRAPH_JWKS_FILE"))
    except ValueError as error:
        raise AuthConfigError(
            f"DELEGRAPH_JWKS_FILE {path} is not JSON: {error}"
        ) from error
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise AuthConfigError(f"DELEGRAPH_JWKS_FILE {path} has no 'keys' list")
    keys: dict[str | None, _Key] = {}
    for entry in entries:
        algorithm = _jwk_algorithm(entry)
        if algorithm is None:
            logger.warning(
                "jwks file=%s kid=%s skipped: not an RS256 or ES256 key",
                path,
                entry.get("kid") if isinstance(entry, dict) else None,
            )
            continue
        try:
            jwk = jwt.PyJWK(entry, algorithm)
        except jwt.PyJWKError as error:
            raise AuthConfigError(
                f"DELEGRAPH_JWKS_FILE {path}: key {entry.get('kid')!r} is invalid: {error}"
            ) from error
        keys[jwk.key_id] = _Key(jwk.key, algorithm)
    if not keys:
        raise AuthConfigError(
            f"DELEGRAPH_JWKS_FILE {path} contains no RS256 or ES256 key"
        )
    return keys


def _jwk_algorithm(entry: Any) -> str | None:
    """Return RS256 for an RSA key, ES256 for a P-256 key, None for anything else."""
    if not isinstance(entry, dict):
        return None
    algorithm = {"RSA": "RS256", "EC": "ES256"}.get(entry.get("kty", ""))
    if algorithm == "ES256" and entry.get("crv") != "P-256":
        return None
    declared = entry.get("alg")
    if declared is not None and declared != algorithm:
        return None
    return algorithm


def _read(path: Path, setting: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise AuthConfigError(f"{setting}: cannot read {path}: {error}") from error


def build_verifier(settings: Settings) -> TokenVerifier | None:
    """Return the verifier, None when auth is off, or raise AuthConfigError."""
    if settings.auth == "off":
        return None
    verifier = TokenVerifier(settings)
    if not verifier.configured:
        raise AuthConfigError(
            "authentication is on but no key is configured: set DELEGRAPH_JWT_SECRET, "
            "DELEGRAPH_JWT_PUBLIC_KEY or DELEGRAPH_JWKS_FILE, or set DELEGRAPH_AUTH=off "
            "for local use only"
        )
    return verifier


def issue_token(
    secret: str,
    subject: str,
    roles: list[str],
    ttl_seconds: int,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """Sign an HS256 caller token (for local use and tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": roles,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


bearer = HTTPBearer(
    auto_error=False, description="A JWT signed with the configured key"
)


# The dependencies below are async so that FastAPI runs them on the event
# loop rather than in its thread pool (see api/deps.py).
async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """Authenticate the request; 401 with WWW-Authenticate when it fails."""
    verifier: TokenVerifier | None = request.app.state.verifier
    if verifier is None:
        return ANONYMOUS_ADMIN
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401,
            "missing bearer token: send 'Authorization: Bearer <JWT>'",
            slug="unauthorized",
            headers={"WWW-Authenticate": REALM},
        )
    try:
        caller = verifier.verify(credentials.credentials)
    except jwt.InvalidTokenError as error:
        logger.info(
            "request=%s rejected bearer token: %s",
            getattr(request.state, "request_id", "-"),
            error,
        )
        raise Problem(
            401,
            f"invalid bearer token: {error}",
            slug="unauthorized",
            headers={
                "WWW-Authenticate": f'{REALM}, error="invalid_token"',
            },
        ) from error
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


async def require_check(caller: CallerDep) -> Caller:
    """Admit callers with the ``check`` or ``admin`` role (decisions and reads)."""
    if not caller.may_check:
        raise forbidden(caller, "this endpoint needs the 'check' or 'admin' role")
    return caller


async def require_admin(caller: CallerDep) -> Caller:
    """Admit callers with the ``admin`` role (writes)."""
    if not caller.is_admin:
        raise forbidden(caller, "this endpoint needs the 'admin' role")
    return caller


def forbidden(caller: Caller, detail: str) -> Problem:
    return Problem(
        403,
        f"{detail}; the token of {caller.subject!r} has roles "
        f"{sorted(caller.roles) or 'none'}",
        slug="forbidden",
    )


CheckCaller = Annotated[Caller, Depends(require_check)]
AdminCaller = Annotated[Caller, Depends(require_admin)]
