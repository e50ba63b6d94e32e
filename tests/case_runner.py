"""Run the shared decision cases through any transport (engine or REST).

A case file contains a ``graph`` in the document format and ``steps`` run in
order. Each step is one of ``check`` (with ``expect: allow|deny``),
``revoke``, ``disable``, ``delete_grant`` or ``create_delegation`` (with
``expect: created|rejected``). A transport turns each step into a call on
the product; :func:`run_case` asserts every expectation and names the case
file, the step number and the step in the failure message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import yaml
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_delegation, parse_document
from delegraph.engine.errors import Conflict, InvalidRequest
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import parse_principal, parse_ref, parse_resource
from delegraph.engine.service import Engine

REPO_ROOT = Path(__file__).resolve().parent.parent
CASES_ENV = "DELEGRAPH_CASES_DIR"
CASE_ACTOR = "case-runner"
CHECK_FIELDS = ("subject", "action", "resource", "context", "on_behalf_of")


class Transport(Protocol):
    """The product calls that case steps need, over one interface."""

    def load(self, graph: dict[str, Any]) -> None:
        """Import the case's graph, given in the document format."""

    def check(self, check: dict[str, Any]) -> bool:
        """Return whether the step's ``check`` mapping is allowed."""

    def revoke(self, delegation_id: str) -> None: ...

    def disable(self, ref: str) -> None: ...

    def delete_grant(self, principal: str, resource: str) -> None: ...

    def create_delegation(self, spec: dict[str, Any]) -> str:
        """Return ``"created"``, or ``"rejected"`` when a rule or an id conflict stops it."""


def cases_dir() -> Path:
    """Return $DELEGRAPH_CASES_DIR, or else the shared/cases folder beside the repository."""
    configured = os.environ.get(CASES_ENV)
    if configured:
        return Path(configured)
    return REPO_ROOT.parent / "shared" / "cases"


def case_files() -> list[Path]:
    """Return the sorted ``*.yaml`` files of the shared cases folder (empty if it is missing)."""
    folder = cases_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.yaml"))


def require_cases() -> list[Path]:
    """Return the case files, or raise AssertionError naming the folder searched."""
    folder = cases_dir()
    files = case_files()
    assert files, (
        f"no decision case files (*.yaml) found in {folder}; clone the shared "
        f"folder beside the repository or set {CASES_ENV} to the cases folder"
    )
    return files


def load_case(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        case = yaml.safe_load(handle)
    assert isinstance(case, dict), f"{path.name}: a case must be a mapping"
    assert isinstance(case.get("graph"), dict), f"{path.name}: 'graph' is missing"
    assert isinstance(case.get("steps"), list), f"{path.name}: 'steps' is missing"
    return case


def run_case(path: Path, transport: Transport) -> None:
    """Load the case's graph through ``transport`` and assert every step's ``expect``."""
    case = load_case(path)
    transport.load(case["graph"])
    for number, step in enumerate(case["steps"], start=1):
        where = f"{path.name} step {number} {step!r}"
        assert isinstance(step, dict), f"{where}: a step must be a mapping"
        _run_step(step, transport, where)


def _run_step(step: dict[str, Any], transport: Transport, where: str) -> None:
    expect = step.get("expect")
    if "check" in step:
        assert expect in ("allow", "deny"), f"{where}: expect must be allow or deny"
        allowed = transport.check(step["check"])
        outcome = "allow" if allowed else "deny"
        assert outcome == expect, f"{where}: expected {expect}, got {outcome}"
    elif "create_delegation" in step:
        assert expect in ("created", "rejected"), (
            f"{where}: expect must be created or rejected"
        )
        outcome = transport.create_delegation(step["create_delegation"])
        assert outcome == expect, f"{where}: expected {expect}, got {outcome}"
    elif "revoke" in step:
        transport.revoke(step["revoke"])
    elif "disable" in step:
        transport.disable(step["disable"])
    elif "delete_grant" in step:
        target = step["delete_grant"]
        transport.delete_grant(target["principal"], target["resource"])
    else:
        raise AssertionError(f"{where}: unknown step kind")


class EngineTransport:
    """Case steps as direct calls on an :class:`Engine` over the test store."""

    def __init__(self, store: Store) -> None:
        self.engine = Engine(store)

    def load(self, graph: dict[str, Any]) -> None:
        self.engine.import_document(parse_document(graph))

    def check(self, check: dict[str, Any]) -> bool:
        return self.engine.check(check_request(check)).allowed

    def revoke(self, delegation_id: str) -> None:
        self.engine.revoke(delegation_id, CASE_ACTOR, "decision case step")

    def disable(self, ref: str) -> None:
        self.engine.disable(parse_ref(ref, "disable"), CASE_ACTOR)

    def delete_grant(self, principal: str, resource: str) -> None:
        self.engine.delete_grant(
            parse_principal(principal, "principal"),
            parse_resource(resource, "resource"),
        )

    def create_delegation(self, spec: dict[str, Any]) -> str:
        try:
            self.engine.create_delegation(parse_delegation(spec), CASE_ACTOR)
        except (InvalidRequest, Conflict):
            return "rejected"
        return "created"


def check_request(check: dict[str, Any]) -> CheckRequest:
    """Build a CheckRequest from a step's ``check`` mapping."""
    unknown = set(check) - set(CHECK_FIELDS)
    assert not unknown, f"unknown check fields {sorted(unknown)}"
    on_behalf_of = check.get("on_behalf_of")
    return CheckRequest(
        subject=parse_principal(check["subject"], "subject"),
        action=check["action"],
        resource=parse_resource(check["resource"], "resource"),
        context=dict(check.get("context") or {}),
        on_behalf_of=(
            None
            if on_behalf_of is None
            else parse_principal(on_behalf_of, "on_behalf_of")
        ),
    )
