"""AuthZEN 1.0 search: which subjects, resources or actions a check would allow.

Results come from the lookups (who_can and reach), which agree with check.
A lookup entry that depends on a condition is kept only if a check with the
request's context allows it. Unknown ids or types return ``{"results": []}``;
``page.next_token`` is ``""`` on the last page.
"""

from __future__ import annotations

from typing import Any

from delegraph.api.auth import CheckCaller
from delegraph.api.deps import EngineDep, SettingsDep, decide, request_id
from delegraph.api.problems import PROBLEM_RESPONSES, Problem
from delegraph.api.routes.authzen import Action, Entity, Lenient, agent_ref
from delegraph.engine.crud import decode_page_token, encode_page_token
from delegraph.engine.documents import parse_action
from delegraph.engine.errors import InvalidRequest, NotFound
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import (
    Ref,
    parse_principal,
    parse_resource,
    require_not_wildcard,
)
from delegraph.engine.service import Engine
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

router = APIRouter(
    prefix="/access/v1/search", tags=["authzen"], responses=PROBLEM_RESPONSES
)

DENY: dict[str, Any] = {"results": []}
DEFAULT_LIMIT = 100


class TypeOnly(Lenient):
    """The searched entity: only its type is required."""

    type: str = Field(min_length=1, examples=["user"])
    id: str | None = None
    properties: dict[str, Any] | None = None


class PageRequest(Lenient):
    token: str | None = None
    limit: int | None = None


class SubjectSearchBody(Lenient):
    subject: TypeOnly
    action: Action
    resource: Entity
    context: dict[str, Any] | None = None
    page: PageRequest | None = None


class ResourceSearchBody(Lenient):
    subject: Entity
    action: Action
    resource: TypeOnly
    context: dict[str, Any] | None = None
    page: PageRequest | None = None


class ActionSearchBody(Lenient):
    subject: Entity
    resource: Entity
    context: dict[str, Any] | None = None
    page: PageRequest | None = None


class PageResult(BaseModel):
    next_token: str


class SearchResult(BaseModel):
    results: list[dict[str, Any]]
    page: PageResult


def _limit(page: PageRequest | None, maximum: int) -> int:
    limit = DEFAULT_LIMIT if page is None or page.limit is None else page.limit
    if not 1 <= limit <= maximum:
        raise Problem(
            422,
            f"page.limit must be from 1 to {maximum} (DELEGRAPH_MAX_PAGE_SIZE)",
            field="page.limit",
            value=limit,
            slug="limit-exceeded",
        )
    return min(limit, maximum)


def _token(page: PageRequest | None) -> str | None:
    return None if page is None or not page.token else page.token


def _result(results: list[dict[str, Any]], next_token: str | None) -> dict[str, Any]:
    return {"results": results, "page": {"next_token": next_token or ""}}


def _holds(engine: Engine, request: CheckRequest) -> bool:
    """Return whether a conditional lookup entry holds for this request's context."""
    return engine.check(request).allowed


def _bad_page_token(error: InvalidRequest) -> Problem:
    return Problem(400, error.message, field="page.token", value=error.value)


@router.post("/subject", response_model=SearchResult)
def search_subject(
    body: SubjectSearchBody,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    caller: CheckCaller,
) -> dict[str, Any]:
    """Return the subjects of the given type that may do the action on the resource.

    With ``context.agent``, the subjects on whose behalf that agent may do it.
    """
    limit = _limit(body.page, settings.max_page_size)
    agent = _acting_agent(body.context)
    try:
        resource = parse_resource(
            f"{body.resource.type}:{body.resource.id}", "resource"
        )
        action = parse_action(body.action.name, "action.name")
    except InvalidRequest:
        return _result([], None)

    def work() -> dict[str, Any]:
        try:
            page = engine.who_can(resource, action, limit, _token(body.page))
        except NotFound:
            return _result([], None)
        results = []
        for entry in page.items:
            principal = parse_principal(entry.principal, "principal")
            if principal.kind != body.subject.type:
                continue
            if agent is not None:
                # The entry shows that the principal has the action; the agent
                # must also reach it through a chain from that principal.
                acting = _check(
                    agent,
                    action,
                    resource,
                    body.context,
                    (None, body.resource),
                    request,
                    on_behalf_of=principal,
                )
                if not _holds(engine, acting):
                    continue
            elif entry.conditional and not _holds(
                engine,
                _check(
                    principal,
                    action,
                    resource,
                    body.context,
                    (None, body.resource),
                    request,
                ),
            ):
                continue
            results.append({"type": principal.kind, "id": principal.id})
        return _result(results, page.next_page_token)

    return _run(request, "search_subject", work)


@router.post("/resource", response_model=SearchResult)
def search_resource(
    body: ResourceSearchBody,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    caller: CheckCaller,
) -> dict[str, Any]:
    """Return the resources of the given type the subject may do the action on.

    With ``context.agent``, the resources that agent may act on for the subject.
    """
    limit = _limit(body.page, settings.max_page_size)
    agent = _acting_agent(body.context)
    try:
        subject = parse_principal(f"{body.subject.type}:{body.subject.id}", "subject")
        action = parse_action(body.action.name, "action.name")
    except InvalidRequest:
        return _result([], None)
    actor, on_behalf_of = (subject, None) if agent is None else (agent, subject)

    def work() -> dict[str, Any]:
        try:
            page = engine.reach(actor, limit, _token(body.page))
        except NotFound:
            return _result([], None)
        results = []
        for entry in page.items:
            resource = parse_resource(entry.resource, "resource")
            if entry.action != action or resource.kind != body.resource.type:
                continue
            if resource.is_wildcard:
                continue
            # With an agent, the entry's chain may start at another holder, so
            # every entry is checked on behalf of the subject.
            needs_check = entry.conditional or on_behalf_of is not None
            if needs_check and not _holds(
                engine,
                _check(
                    actor,
                    action,
                    resource,
                    body.context,
                    (body.subject, None),
                    request,
                    on_behalf_of=on_behalf_of,
                ),
            ):
                continue
            results.append({"type": resource.kind, "id": resource.id})
        return _result(results, page.next_page_token)

    return _run(request, "search_resource", work)


@router.post("/action", response_model=SearchResult)
def search_action(
    body: ActionSearchBody,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    caller: CheckCaller,
) -> dict[str, Any]:
    """Return the actions the subject may do on the resource.

    With ``context.agent``, the actions that agent may do on it for the subject.
    """
    limit = _limit(body.page, settings.max_page_size)
    agent = _acting_agent(body.context)
    after = _action_page_start(body, agent)
    try:
        subject = parse_principal(f"{body.subject.type}:{body.subject.id}", "subject")
        resource = parse_resource(
            f"{body.resource.type}:{body.resource.id}", "resource"
        )
    except InvalidRequest:
        return _result([], None)
    actor, on_behalf_of = (subject, None) if agent is None else (agent, subject)

    def work() -> dict[str, Any]:
        # who_can pages over the (principal, action) pairs of every principal,
        # so the search reads all its pages, keeps this subject's actions and
        # pages over their sorted names itself.
        actions: set[str] = set()
        token = None
        while True:
            try:
                page = engine.who_can(resource, None, settings.max_page_size, token)
            except NotFound:
                return _result([], None)
            for entry in page.items:
                if entry.principal != str(actor) or entry.action in actions:
                    continue
                if after is not None and entry.action <= after:
                    continue
                needs_check = entry.conditional or on_behalf_of is not None
                if needs_check and not _holds(
                    engine,
                    _check(
                        actor,
                        entry.action,
                        resource,
                        body.context,
                        (body.subject, body.resource),
                        request,
                        on_behalf_of=on_behalf_of,
                    ),
                ):
                    continue
                actions.add(entry.action)
            token = page.next_page_token
            if token is None:
                break
        names = sorted(actions)
        next_token = None
        if len(names) > limit:
            names = names[:limit]
            next_token = encode_page_token(_action_scope(body, agent), names[-1])
        return _result([{"name": name} for name in names], next_token)

    return _run(request, "search_action", work)


def _check(
    subject: Ref,
    action: str,
    resource: Ref,
    context: dict[str, Any] | None,
    entities: tuple[Entity | None, Entity | None],
    request: Request,
    on_behalf_of: Ref | None = None,
) -> CheckRequest:
    """Build the check of one conditional entry.

    ``entities`` contains the request's subject and resource entities when the
    request names them, so a condition reads the same properties as an
    evaluation of that subject and resource would.
    """
    subject_entity, resource_entity = entities
    return CheckRequest(
        subject=subject,
        action=action,
        resource=resource,
        context=dict(context or {}),
        subject_properties=_properties(subject_entity),
        resource_properties=_properties(resource_entity),
        on_behalf_of=on_behalf_of,
        request_id=request_id(request),
    )


def _action_scope(body: ActionSearchBody, agent: Ref | None) -> dict[str, Any]:
    """Return what an action search's page token is bound to.

    The context is not part of it, so a caller that changes the context
    between pages gets the pages of the new context after the same name.
    """
    return {
        "search": "action",
        "subject": f"{body.subject.type}:{body.subject.id}",
        "resource": f"{body.resource.type}:{body.resource.id}",
        "agent": None if agent is None else str(agent),
    }


def _action_page_start(body: ActionSearchBody, agent: Ref | None) -> str | None:
    """Return the last action name of the previous page, or None on the first page.

    Raises a 400 on ``page.token`` when the token is malformed or came from
    another search.
    """
    token = _token(body.page)
    try:
        after = decode_page_token(token, _action_scope(body, agent))
    except InvalidRequest as error:
        raise _bad_page_token(error) from error
    if after is not None and not isinstance(after, str):
        raise Problem(
            400,
            "page.token is not a token that this search returned",
            field="page.token",
            value=token,
        )
    return after


def _acting_agent(context: dict[str, Any] | None) -> Ref | None:
    """Return the agent named by ``context.agent``, or None (400 if it is malformed).

    As in an evaluation, the agent then acts on behalf of the request's subject.
    """
    if not context or context.get("agent") is None:
        return None
    try:
        return require_not_wildcard(agent_ref(context["agent"]), "context.agent")
    except InvalidRequest as error:
        raise Problem(
            400, error.message, field="context.agent", value=error.value
        ) from error


def _properties(entity: Entity | None) -> dict[str, Any]:
    return (
        {} if entity is None or entity.properties is None else dict(entity.properties)
    )


def _run(request: Request, endpoint: str, work: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = decide(request, endpoint, work, DENY)
    except InvalidRequest as error:
        raise _bad_page_token(error) from error
    return result
