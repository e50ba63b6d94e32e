"""Named Cypher queries loaded from the package's .cypher files.

A query file holds several queries, each introduced by a line
``// query: NAME``. Queries take all input as parameters; none is built by
string formatting.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from importlib import resources

HEADER = re.compile(r"^// query: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@cache
def _load(file_name: str) -> dict[str, str]:
    text = resources.files("delegraph.cypher").joinpath(file_name).read_text()
    parts = HEADER.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [
            line for line in body.splitlines() if not line.lstrip().startswith("//")
        ]
        queries[name] = "\n".join(lines).strip()
    return queries


def query(file_name: str, name: str) -> str:
    """Return the text of query ``name`` in ``file_name`` (KeyError if absent)."""
    return _load(file_name)[name]


def query_time(moment: datetime) -> str:
    """Return ``moment`` as ISO 8601 text, for a query that parses it with datetime().

    The driver converts a Python datetime parameter in pure Python, which
    cost about 0.3 ms of client CPU per check and most of an import's time.
    Text costs next to nothing to send, and datetime() gives the same
    instant and offset.
    """
    return moment.isoformat()


BOUND = re.compile(r"\{\{([A-Z_]+)\}\}")
MAX_BOUND = 1000


def bounded_query(file_name: str, name: str, **bounds: int) -> str:
    """Return query ``name`` with each ``{{NAME}}`` path bound set from ``bounds``.

    Cypher accepts no parameters in variable-length bounds, so the bound is
    part of the text. Only integers from 0 to MAX_BOUND are formatted in.
    """
    text = query(file_name, name)

    def replace(match: re.Match[str]) -> str:
        value = bounds[match.group(1)]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"path bound {match.group(1)} must be an int")
        if not 0 <= value <= MAX_BOUND:
            raise ValueError(
                f"path bound {match.group(1)}={value} is outside 0..{MAX_BOUND}"
            )
        return str(value)

    return BOUND.sub(replace, text)
