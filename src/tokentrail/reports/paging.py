"""Paging a long list of calls: keyset cursors and bounded counts (SELECT only).

A cursor names one row by its place in a sort order, `(sort key, start_time, span_id)`, a total order, so the
rows after (or before) it are found by seeking an index, however deep the page; OFFSET must read and drop every
row before the page instead. The cursor travels as text (`Cursor.text`) in a page's URL, so a shared link shows
the same rows. A bounded count stops counting at `bound + 1` rows: exact below the bound, "more than" above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Final, Protocol

from psycopg import sql

from tokentrail.reports.callfilter import Where

__all__ = ["COUNT_BOUND", "Cursor", "Sortable", "cursor_at", "keyset_condition", "parse_cursor", "row_key"]

COUNT_BOUND: Final = 10_000
"""Lists count their rows exactly up to this many; beyond it they say "more than"."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_TEXT: Final = 200

SortKey = Decimal | float | int | datetime
"""A row's value of its sort's key: cost (NULL as -1), latency in ms, tokens, or the start time."""


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    """A row's place in a sort order; `before` selects the rows that precede it (the previous page)."""

    key: SortKey
    start_time: datetime
    span_id: str
    before: bool = False

    @property
    def text(self) -> str:
        """`KEY,MICROS,SPAN`: the URL form, read back by `parse_cursor` (times as microseconds since 1970)."""
        if isinstance(self.key, datetime):
            key = str(_micros(self.key))
        else:
            key = repr(self.key) if isinstance(self.key, float) else str(self.key)
        return f"{key},{_micros(self.start_time)},{self.span_id}"


class Sortable(Protocol):
    """What a row needs for its place in any sort (a `tokentrail.reports.queries.CallRow` has it)."""

    @property
    def start_time(self) -> datetime: ...
    @property
    def span_id(self) -> str: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def cost_usd(self) -> Decimal | None: ...
    @property
    def input_tokens(self) -> int | None: ...
    @property
    def output_tokens(self) -> int | None: ...


def row_key(sort: str, row: Sortable) -> SortKey:
    """A row's sort key under `sort`, as the query orders it (`tokentrail.reports.queries.order_by`)."""
    name = sort.removeprefix("-")
    if name == "cost":
        return row.cost_usd if row.cost_usd is not None else Decimal(-1)
    if name == "latency":
        return float(row.duration_ms)
    if name == "tokens":
        return (row.input_tokens or 0) + (row.output_tokens or 0)
    return row.start_time


def cursor_at(sort: str, row: Sortable, *, before: bool = False) -> Cursor:
    """The cursor of `row` under `sort`: the next page starts after it (or, with `before`, the previous page
    ends before it)."""
    return Cursor(row_key(sort, row), row.start_time, row.span_id, before)


def parse_cursor(text: str, sort: str, *, before: bool = False) -> Cursor:
    """A cursor's URL form for `sort` (as `Cursor.text` writes it); raises ValueError when it is not one."""
    parts = text.strip().split(",", 2)
    if len(text) > _MAX_TEXT or len(parts) != 3 or not parts[2]:
        raise ValueError(f"{text[:40]!r} is not a page cursor (follow the page's next and previous links)")
    key_text, micros_text, span_id = parts
    name = sort.removeprefix("-")
    try:
        start_time = _EPOCH + timedelta(microseconds=int(micros_text))
        key: SortKey
        if name == "cost":
            key = Decimal(key_text)
            if not key.is_finite():
                raise ValueError(key_text)
        elif name == "latency":
            key = float(key_text)
        elif name == "tokens":
            key = int(key_text)
        else:
            key = _EPOCH + timedelta(microseconds=int(key_text))
    except (ValueError, InvalidOperation, OverflowError):
        raise ValueError(f"{text[:40]!r} is not a page cursor for sort={sort}") from None
    return Cursor(key, start_time, span_id, before)


def keyset_condition(where: Where, key: sql.Composable, descending: bool, cursor: Cursor) -> Where:
    """Adds to `where` "comes after `cursor`" (or before, with `cursor.before`) in the order
    `key [DESC], start_time DESC, span_id ASC`. The leading `key <= x` (or `>=`) lets an index on the key seek."""
    forward = not cursor.before
    beyond_key = "<" if descending == forward else ">"
    beyond_time = "<" if forward else ">"
    beyond_span = ">" if forward else "<"
    condition = sql.SQL(
        "{k} {bk}= %(cursor_key)s AND ({k} {bk} %(cursor_key)s OR ({k} = %(cursor_key)s AND "
        "(c.start_time {bt} %(cursor_time)s OR (c.start_time = %(cursor_time)s AND c.span_id {bs} %(cursor_span)s))))"
    ).format(k=key, bk=sql.SQL(beyond_key), bt=sql.SQL(beyond_time), bs=sql.SQL(beyond_span))
    return where.add(condition, cursor_key=cursor.key, cursor_time=cursor.start_time, cursor_span=cursor.span_id)
