"""The read side: the queries the CLI and the web UI run against the store, and how their results are shown.

- `callfilter`: `CallFilter`, the one filter every query, CLI flag and UI parameter shares, and its WHERE clause
- `queries`: stats, the call list, prompt-version comparison (SELECT only, typed rows)
- `export`: every column of the selected calls, streamed (JSONL/CSV exports)
- `series`: the same figures per time bucket (and group), for charts over time
- `cache`: prompt-cache hit rate and the money cache reads saved, per model
- `prompts`: the prompt names and versions seen in a range
- `rollup`, `rollupstats`, `rollupusers`, `rollupprompts` (pieces in `rollupsql`): the web UI's figures from the
  rollups of schema 6, exact sums and histogram percentiles (within 4.9%); the CLI's `stats` reads every call
- `trace`: one trace as a tree of spans with their LLM calls; `waterfall`: the same on its time line, with totals
- `calldetail`: one call in full (request parameters, conversation, cost breakdown); `conversation`: stored
  bodies read into typed messages and parts
- `sessions`: sessions and users listed, a session's calls in order, a user's spend per day and model
- `content`: text out of stored message bodies (the prompt preview)
- `filters`: parsing and checking filter values (durations, times, amounts, trace ids, ranges)
- `render`: tables, JSON and CSV; money, durations and trees formatted once
- `connect`: finding and opening the database, failures as one line

Nothing here writes (retention lives in `tokentrail.db.retention`) or imports the sink. The query API is
re-exported lazily, so that parsing arguments with `filters` does not import psycopg.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentrail.reports.callfilter import CallFilter
    from tokentrail.reports.content import last_user_text
    from tokentrail.reports.export import export_calls
    from tokentrail.reports.queries import (
        GROUPINGS,
        SORTS,
        CallRow,
        Grouping,
        PromptVersionRow,
        Sort,
        StatsRow,
        calls,
        compare_prompts,
        count_calls,
        parse_grouping,
        stats,
    )
    from tokentrail.reports.trace import LlmInfo, TreeNode, trace_tree

__all__ = [
    "GROUPINGS",
    "SORTS",
    "CallFilter",
    "CallRow",
    "Grouping",
    "LlmInfo",
    "PromptVersionRow",
    "Sort",
    "StatsRow",
    "TreeNode",
    "calls",
    "compare_prompts",
    "count_calls",
    "export_calls",
    "last_user_text",
    "parse_grouping",
    "stats",
    "trace_tree",
]

_HOMES = {
    "content": ("last_user_text",),
    "callfilter": ("CallFilter",),
    "export": ("export_calls",),
    "queries": (
        "GROUPINGS",
        "SORTS",
        "CallRow",
        "Grouping",
        "PromptVersionRow",
        "Sort",
        "StatsRow",
        "calls",
        "compare_prompts",
        "count_calls",
        "parse_grouping",
        "stats",
    ),
    "trace": ("LlmInfo", "TreeNode", "trace_tree"),
}
_LAZY = {name: f"tokentrail.reports.{module}" for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokentrail.reports' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
