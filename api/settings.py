"""Configuration read from the environment (names fixed by the public contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from delegraph.api import neo4j_local
from delegraph.cypher.store import Store
from delegraph.engine.audit import DecisionLog, open_decision_log
from delegraph.engine.introspect import IntrospectionKeys
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment configuration of the API, the CLI and the tests."""

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", populate_by_name=True
    )

    neo4j_uri: str | None = Field(default=None, alias="NEO4J_URI")
    neo4j_user: str = Field(default="neo4j", alias="NEO4J_USER")
    neo4j_password: str | None = Field(default=None, alias="NEO4J_PASSWORD")
    neo4j_database: str = Field(default="neo4j", alias="NEO4J_DATABASE")

    jwt_secret: str | None = Field(default=None, alias="DELEGRAPH_JWT_SECRET")
    jwt_public_key: str | None = Field(default=None, alias="DELEGRAPH_JWT_PUBLIC_KEY")
    jwks_file: str | None = Field(default=None, alias="DELEGRAPH_JWKS_FILE")

    max_chain: int = Field(default=8, ge=1, le=32, alias="DELEGRAPH_MAX_CHAIN")
    decision_log: str = Field(default="neo4j", alias="DELEGRAPH_DECISION_LOG")
    decision_log_sample_rate: float = Field(
        default=1.0, ge=0.0, le=1.0, alias="DELEGRAPH_DECISION_LOG_SAMPLE_RATE"
    )
    decision_log_hash_key: str | None = Field(
        default=None, alias="DELEGRAPH_DECISION_LOG_HASH_KEY"
    )
    decision_log_capacity: int = Field(
        default=10_000, ge=1, alias="DELEGRAPH_DECISION_LOG_CAPACITY"
    )

    introspect_public_key: str | None = Field(
        default=None, alias="DELEGRAPH_INTROSPECT_PUBLIC_KEY"
    )
    introspect_jwks_file: str | None = Field(
        default=None, alias="DELEGRAPH_INTROSPECT_JWKS_FILE"
    )
    introspect_issuer: str | None = Field(
        default=None, alias="DELEGRAPH_INTROSPECT_ISSUER"
    )
    introspect_audience: str | None = Field(
        default=None, alias="DELEGRAPH_INTROSPECT_AUDIENCE"
    )
    query_timeout_seconds: float = Field(
        default=5.0, gt=0, alias="DELEGRAPH_QUERY_TIMEOUT"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="DELEGRAPH_LOG_LEVEL"
    )

    # REST API: caller authentication. Without a key the server does not start
    # unless DELEGRAPH_AUTH=off is set, which makes every caller an admin.
    auth: Literal["on", "off"] = Field(default="on", alias="DELEGRAPH_AUTH")
    jwt_audience: str | None = Field(default=None, alias="DELEGRAPH_JWT_AUDIENCE")
    jwt_issuer: str | None = Field(default=None, alias="DELEGRAPH_JWT_ISSUER")

    # REST API: request limits. A larger body gets 413, a longer string, list
    # or page gets 422; every error names the limit. The batch maximum stays
    # within the engine's own maximum of 1000 checks per batch query.
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, alias="DELEGRAPH_MAX_BODY_BYTES"
    )
    max_import_bytes: int = Field(
        default=67_108_864, ge=1024, alias="DELEGRAPH_MAX_IMPORT_BYTES"
    )
    max_batch: int = Field(default=100, ge=1, le=1000, alias="DELEGRAPH_MAX_BATCH")
    max_string_length: int = Field(
        default=4096, ge=64, alias="DELEGRAPH_MAX_STRING_LENGTH"
    )
    max_json_depth: int = Field(
        default=32, ge=4, le=256, alias="DELEGRAPH_MAX_JSON_DEPTH"
    )
    max_page_size: int = Field(
        default=1000, ge=1, le=1000, alias="DELEGRAPH_MAX_PAGE_SIZE"
    )

    # REST API: where ``delegraph serve`` listens, and the public base URL that
    # the AuthZEN metadata names (derived from each request when unset).
    host: str = Field(default="127.0.0.1", alias="DELEGRAPH_HOST")
    port: int = Field(default=8000, ge=1, le=65535, alias="DELEGRAPH_PORT")
    public_url: str | None = Field(default=None, alias="DELEGRAPH_PUBLIC_URL")

    def resolved_neo4j(self) -> tuple[str, str, str]:
        """Return ``(uri, user, password)``, falling back to the local server's files."""
        local = neo4j_local.LocalNeo4jConfig.from_env()
        uri = self.neo4j_uri or local.bolt_uri
        password = self.neo4j_password
        if password is None:
            password = neo4j_local.read_password(local) or ""
        return uri, self.neo4j_user, password

    def introspection_keys(self) -> IntrospectionKeys:
        """Load the introspection issuer keys, else the caller-authentication keys.

        Raises InvalidRequest naming the setting when no key is configured.
        """
        if self.introspect_public_key or self.introspect_jwks_file:
            return IntrospectionKeys.load(
                public_key=self.introspect_public_key,
                jwks_file=self.introspect_jwks_file,
                issuer=self.introspect_issuer,
                audience=self.introspect_audience,
            )
        return IntrospectionKeys.load(
            public_key=self.jwt_public_key,
            jwks_file=self.jwks_file,
            secret=self.jwt_secret,
            issuer=self.introspect_issuer,
            audience=self.introspect_audience,
        )

    def decision_file(self) -> Path | None:
        """Return the file of ``DELEGRAPH_DECISION_LOG=file:PATH``, else None.

        The decision reads of the API and the CLI scan that file when it is set.
        """
        prefix = "file:"
        if self.decision_log.startswith(prefix) and len(self.decision_log) > len(
            prefix
        ):
            return Path(self.decision_log.removeprefix(prefix))
        return None

    def open_decision_log(self, store: Store) -> DecisionLog | None:
        """Open the decision log that DELEGRAPH_DECISION_LOG names (None for off)."""
        key = self.decision_log_hash_key
        return open_decision_log(
            self.decision_log,
            store,
            sample_rate=self.decision_log_sample_rate,
            hash_key=None if key is None else key.encode(),
            capacity=self.decision_log_capacity,
        )
