"""The check query text is the same for every request, so Neo4j reuses its cached plan."""

from __future__ import annotations

from datetime import UTC, datetime

from delegraph.cypher.checks import Bounds, CheckParameters, batch_check, single_check

BOUNDS = Bounds(max_chain=8, group_depth=8, hierarchy_depth=16, max_candidates=256)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
FIRST = CheckParameters("agent:bot", "read", "document:plan", "document", None)
SECOND = CheckParameters(
    "agent:x'}) DETACH DELETE (n", "write", "repo:`core`", "repo", "user:alice"
)


def test_single_check_text_same_for_requests() -> None:
    first_text, first_parameters = single_check(BOUNDS, FIRST, NOW)
    second_text, second_parameters = single_check(BOUNDS, SECOND, NOW)

    assert first_text == second_text
    assert first_parameters != second_parameters


def test_single_check_text_has_no_input() -> None:
    text, parameters = single_check(BOUNDS, SECOND, NOW)

    assert parameters["subject"] == SECOND.subject
    assert SECOND.subject not in text
    assert "core" not in text
    assert "alice" not in text


def test_batch_check_text_same_for_sizes() -> None:
    single_text, _ = batch_check(BOUNDS, [FIRST], NOW)
    triple_text, parameters = batch_check(BOUNDS, [FIRST, SECOND, FIRST], NOW)

    assert single_text == triple_text
    assert [row["index"] for row in parameters["requests"]] == [0, 1, 2]
