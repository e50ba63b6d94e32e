"""Configuration read from the environment (names fixed by the public contract)."""

from __future__ import annotations

from typing import Literal

from delegraph.api import neo4j_local
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment configuration of the API, the CLI and the tests."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    neo4j_uri: str | None = Field(default=None, alias="NEO4J_URI")
    neo4j_user: str = Field(default="neo4j", alias="NEO4J_USER")
    neo4j_password: str | None = Field(default=None, alias="NEO4J_PASSWORD")
    neo4j_database: str = Field(default="neo4j", alias="NEO4J_DATABASE")

    jwt_secret: str | None = Field(default=None, alias="DELEGRAPH_JWT_SECRET")
    jwt_public_key: str | None = Field(default=None, alias="DELEGRAPH_JWT_PUBLIC_KEY")
    jwks_file: str | None = Field(default=None, alias="DELEGRAPH_JWKS_FILE")

    max_chain: int = Field(default=8, ge=1, le=32, alias="DELEGRAPH_MAX_CHAIN")
    decision_log: str = Field(default="neo4j", alias="DELEGRAPH_DECISION_LOG")
    query_timeout_seconds: float = Field(
        default=5.0, gt=0, alias="DELEGRAPH_QUERY_TIMEOUT"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="DELEGRAPH_LOG_LEVEL"
    )

    def resolved_neo4j(self) -> tuple[str, str, str]:
        """Return ``(uri, user, password)``, falling back to the local server's files."""
        local = neo4j_local.LocalNeo4jConfig.from_env()
        uri = self.neo4j_uri or local.bolt_uri
        password = self.neo4j_password
        if password is None:
            password = neo4j_local.read_password(local) or ""
        return uri, self.neo4j_user, password
