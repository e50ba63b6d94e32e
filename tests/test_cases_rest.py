"""Every shared decision case, run through the REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_helpers import ADMIN, CHECK
from case_runner import CHECK_FIELDS, case_files, require_cases, run_case
from fastapi.testclient import TestClient


class RestTransport:
    """Case steps as HTTP calls; each read passes the token of the last write."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.consistency_token: str | None = None

    def _write(self, path: str, body: Any = None) -> Any:
        response = self.client.post(path, json=body, headers=ADMIN)
        assert response.status_code in (200, 201), f"POST {path}: {response.text}"
        self.consistency_token = response.json()["consistency_token"]
        return response.json()

    def load(self, graph: dict[str, Any]) -> None:
        self._write("/v1/graph/import", graph)

    def check(self, check: dict[str, Any]) -> bool:
        unknown = set(check) - set(CHECK_FIELDS)
        assert not unknown, f"unknown check fields {sorted(unknown)}"
        body = {key: value for key, value in check.items() if value is not None}
        body["consistency_token"] = self.consistency_token
        response = self.client.post("/v1/check", json=body, headers=CHECK)
        assert response.status_code == 200, response.text
        allowed = response.json()["allowed"]
        assert isinstance(allowed, bool), response.text
        return allowed

    def revoke(self, delegation_id: str) -> None:
        self._write(
            f"/v1/delegations/{delegation_id}/revoke", {"reason": "decision case step"}
        )

    def disable(self, ref: str) -> None:
        self._write(f"/v1/principals/{ref}/disable")

    def delete_grant(self, principal: str, resource: str) -> None:
        response = self.client.delete(
            "/v1/grants",
            params={"principal": principal, "resource": resource},
            headers=ADMIN,
        )
        assert response.status_code == 200, response.text
        self.consistency_token = response.json()["consistency_token"]

    def create_delegation(self, spec: dict[str, Any]) -> str:
        response = self.client.post("/v1/delegations", json=spec, headers=ADMIN)
        if response.status_code in (409, 422):
            return "rejected"
        assert response.status_code == 201, response.text
        self.consistency_token = response.json()["consistency_token"]
        return "created"


def test_cases_found() -> None:
    assert require_cases()


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.name)
def test_case_over_rest(path: Path, api: TestClient) -> None:
    run_case(path, RestTransport(api))
