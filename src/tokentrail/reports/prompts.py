"""The prompts seen in a range: each `tokentrail.prompt.name` with its versions and calls (SELECT only).

The prompt-versions page lists these and compares the versions of one with `queries.compare_prompts`.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql
from psycopg.rows import class_row

from tokentrail.reports.callfilter import CallFilter, filter_conditions
from tokentrail.reports.queries import Connection

__all__ = ["PromptRow", "prompt_names"]


@dataclass(frozen=True)
class PromptRow:
    name: str
    versions: list[str]
    """Distinct versions in order of first use (a call without a version is left out)."""
    calls: int


def prompt_names(conn: Connection, where: CallFilter) -> list[PromptRow]:
    """Every prompt name among the calls `where` selects, most calls first."""
    cond = filter_conditions(where).add("c.prompt_name IS NOT NULL")
    query = sql.SQL(
        """
        SELECT p.name, coalesce(array_agg(p.version ORDER BY p.first_use) FILTER (WHERE p.version IS NOT NULL),
                                '{{}}') AS versions, sum(p.calls)::bigint AS calls
        FROM (SELECT c.prompt_name AS name, c.prompt_version AS version, min(c.start_time) AS first_use,
                     count(*) AS calls
              FROM llm_calls AS c{where} GROUP BY 1, 2) AS p
        GROUP BY 1 ORDER BY 3 DESC, 1
        """
    ).format(where=cond.clause())
    with conn.cursor(row_factory=class_row(PromptRow)) as cur:
        return cur.execute(query, cond.params).fetchall()
