"""The prompts seen and the prompt-version comparison from the rollups (`reports.rollup`): the rows of
`prompts.prompt_names` and `queries.compare_prompts`, p50/p95 from the latency histograms. Versions come in order
of first use, read from the prompt index of `llm_calls` (one lookup per version)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from psycopg import sql

from tokentrail.reports.callfilter import CallFilter, filter_conditions
from tokentrail.reports.prompts import PromptRow
from tokentrail.reports.queries import Connection, PromptVersionRow
from tokentrail.reports.rollup import totals_by
from tokentrail.reports.rollupstats import histograms, percentile

__all__ = ["compare_prompts", "prompt_names"]

_PAIR: Final = sql.SQL("jsonb_build_array(c.prompt_name, c.prompt_version)::text")
_VERSION: Final = sql.SQL("c.prompt_version")
_NAMED: Final = sql.SQL("c.prompt_name IS NOT NULL")


def _first_use(conn: Connection, where: CallFilter, name: str, version: str | None) -> datetime | None:
    cond = filter_conditions(replace(where, prompt=None)).add("c.prompt_name = %(first_name)s", first_name=name)
    if version is None:
        cond.add("c.prompt_version IS NULL")
    else:
        cond.add("c.prompt_version = %(first_version)s", first_version=version)
    text = sql.SQL("SELECT min(c.start_time) FROM llm_calls AS c{}").format(cond.clause())
    with conn.cursor() as cur:
        row = cur.execute(text, cond.params, prepare=False).fetchone()
    return row[0] if row else None


def prompt_names(conn: Connection, where: CallFilter) -> list[PromptRow]:
    """`prompts.prompt_names`: every prompt name among the calls `where` selects, most calls first."""
    calls: dict[str, int] = {}
    seen: dict[str, list[tuple[datetime, str]]] = {}
    for row in totals_by(conn, where, _PAIR, extra=[_NAMED]):
        name, version = json.loads(row.key or "[]")
        calls[name] = calls.get(name, 0) + row.calls
        found = seen.setdefault(name, [])
        if version is not None:
            first = _first_use(conn, where, name, version)
            if first is not None:
                found.append((first, version))
    return sorted(
        (PromptRow(name, [v for _, v in sorted(seen[name])], n) for name, n in calls.items()),
        key=lambda r: (-r.calls, r.name),
    )


def compare_prompts(
    conn: Connection,
    prompt_name: str,
    versions: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PromptVersionRow]:
    """`queries.compare_prompts`: per version of one prompt, with `versions` exactly those in that order."""
    where = CallFilter(since=since, until=until, prompt=prompt_name)
    extra = [sql.SQL("c.prompt_version = ANY(%(compare_versions)s)")] if versions else []
    params = {"compare_versions": list(versions)} if versions else {}
    rows = totals_by(conn, where, _VERSION, extra=extra, params=params)
    hist = histograms(conn, where, "prompt-version")
    found = []
    for r in rows:
        latency = hist.get((f"{prompt_name}@{r.key if r.key is not None else '?'}", 0), {})
        mean_cost = r.cost_usd / r.cost_calls if r.cost_calls else None
        found.append(
            (
                _first_use(conn, where, prompt_name, r.key),
                r.key,
                PromptVersionRow(
                    version=r.key,
                    calls=r.calls,
                    success_rate=(r.calls - r.errors) / r.calls,
                    latency_p50_ms=percentile(latency, 0.50),
                    latency_p95_ms=percentile(latency, 0.95),
                    mean_cost_usd=Decimal(mean_cost) if mean_cost is not None else None,
                    mean_output_tokens=r.output_tokens / r.output_calls if r.output_calls else None,
                ),
            )
        )
    found.sort(key=lambda item: (item[0] is None, item[0].timestamp() if item[0] else 0.0, item[1] or ""))
    ordered = [row for _, _, row in found]
    if not versions:
        return ordered
    by_version = {row.version: row for row in ordered}
    return [by_version.get(v) or PromptVersionRow(v, 0, None, None, None, None, None) for v in dict.fromkeys(versions)]
