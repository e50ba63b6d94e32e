"""Every shared decision case, run through the engine over a real Neo4j."""

from __future__ import annotations

from pathlib import Path

import pytest
from case_runner import EngineTransport, case_files, require_cases, run_case
from delegraph.cypher.store import Store

# With no case files the single None parameter makes the test fail and name
# the folder it searched, instead of pytest collecting nothing.
CASES: list[Path | None] = list(case_files()) or [None]


@pytest.mark.parametrize(
    "path", CASES, ids=[p.name if p else "no-case-files" for p in CASES]
)
def test_case_through_engine(path: Path | None, clean_store: Store) -> None:
    if path is None:
        require_cases()
        return
    run_case(path, EngineTransport(clean_store))
