"""Every stored column of the calls a filter selects, streamed: the read side of `calls --format jsonl` and the
web UI's CSV/JSONL export.

Rows come from a server-side cursor in batches, so an export of a million calls never sits in memory. Content
digests are given in hex; with `with_content`, the stored bodies (system instructions, input and output
messages, tool definitions) are added, parsed from JSON where they are valid JSON (a body the capture budget cut
short stays text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

from psycopg import sql
from psycopg.rows import dict_row

from tokentrail.reports.callfilter import CallFilter, filter_conditions
from tokentrail.reports.calllist import order_by
from tokentrail.reports.queries import Connection

__all__ = ["BATCH", "CONTENT_FIELDS", "export_calls"]

BATCH: Final = 2000
"""Rows fetched from the server per round trip."""
CONTENT_FIELDS: Final = ("system", "input", "output", "tools")
_CONTENT_KEYS: Final = frozenset(f"content_{name}" for name in CONTENT_FIELDS)


def _body(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def export_calls(
    conn: Connection, where: CallFilter, *, with_content: bool = False, sort: str = "-time", everything: bool = True
) -> Iterator[dict[str, Any]]:
    """Each call `where` selects as a dict of every `llm_calls` column (digests in hex), in `sort` order.

    With `everything` (the default) `where.limit` and `.offset` are ignored: the export is the whole selection.
    The rows are read inside one read-only transaction on `conn`; consume the iterator before using `conn` again.
    """
    cond = filter_conditions(where)
    joins: sql.Composable = sql.SQL("")
    extra: sql.Composable = sql.SQL("")
    if with_content:
        joins = sql.SQL("").join(
            sql.SQL(" LEFT JOIN content_blobs AS {b} ON {b}.sha256 = c.{col}").format(
                b=sql.Identifier(f"b_{name}"), col=sql.Identifier(f"{name}_sha256")
            )
            for name in CONTENT_FIELDS
        )
        extra = sql.SQL("").join(
            sql.SQL(", {b}.body AS {alias}").format(
                b=sql.Identifier(f"b_{name}"), alias=sql.Identifier(f"content_{name}")
            )
            for name in CONTENT_FIELDS
        )
    limit = sql.SQL("") if everything else sql.SQL(" LIMIT %(limit)s OFFSET %(offset)s")
    query = sql.SQL("SELECT c.*{extra} FROM llm_calls AS c{joins}{where} ORDER BY {order}{limit}").format(
        extra=extra, joins=joins, where=cond.clause(), order=order_by(sort), limit=limit
    )
    params = {**cond.params, "limit": where.limit, "offset": where.offset}
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        with conn.cursor("tokentrail_export", row_factory=dict_row) as cur:
            cur.itersize = BATCH
            cur.execute(query, params)
            for row in cur:
                yield _portable(row)


def _portable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in _CONTENT_KEYS:
            out[key] = _body(value)
        elif isinstance(value, (bytes, memoryview)):
            out[key] = bytes(value).hex()
        else:
            out[key] = value
    return out
