"""How figures read: money, durations, shares and times, and a list of records as an aligned table, JSON or CSV.

Formatting lives here once, so the CLI's reports (`tokentrail.reports.render`) and the web UI show the same
figures the same way. JSON and CSV carry numbers as numbers and times in ISO 8601 (UTC); a table shows `-` for a
missing value. An empty table writes a one-line "no ..." notice on stderr (stdout stays empty); JSON and CSV
write an empty list or a header line.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Final, TextIO

__all__ = [
    "COST",
    "FORMATS",
    "INT",
    "MS",
    "PCT",
    "Column",
    "clip",
    "dash",
    "emit",
    "emit_or_notice",
    "fmt_cost",
    "fmt_int",
    "fmt_ms",
    "fmt_pct",
    "fmt_time",
    "plain",
]

FORMATS: Final = ("table", "json", "csv")
"""Every report's formats; the call list also streams `jsonl` (`tokentrail.reports.render.export`)."""


# --- values -----------------------------------------------------------------------------------------------


def fmt_int(value: Any) -> str:
    return f"{int(value):,}"


def fmt_ms(value: Any) -> str:
    ms = float(value)
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.2f}s"


def fmt_cost(value: Any) -> str:
    amount = Decimal(value)
    if 0 < abs(amount) < Decimal("0.0001"):  # a sub-cent call (a short Haiku reply) must not read as free
        return f"${amount:.6f}"
    return f"${amount:,.4f}"


def fmt_pct(value: Any) -> str:
    return f"{float(value):.1%}"


def fmt_time(value: Any) -> str:
    moment: datetime = value
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def dash(show: Callable[[Any], str]) -> Callable[[Any], str]:
    """`show`, with `-` for a missing value."""
    return lambda value: "-" if value is None else show(value)


def clip(limit: int) -> Callable[[Any], str]:
    """A value on one line of at most `limit` characters (`…` marks a cut)."""

    def show(value: Any) -> str:
        text = " ".join(str(value).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return show


INT = dash(fmt_int)
MS = dash(fmt_ms)
COST = dash(fmt_cost)
PCT = dash(fmt_pct)


def plain(value: Any) -> Any:
    """A value as JSON/CSV carry it: numbers as numbers, times in ISO 8601."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


# --- tables, JSON, CSV ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    show: Callable[[Any], str] = str
    right: bool = False


def emit(records: Sequence[dict[str, Any]], columns: Sequence[Column], fmt: str, out: TextIO | None = None) -> None:
    """Write records as an aligned table (the given columns), JSON (a list of objects) or CSV (every key)."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump([{k: plain(v) for k, v in r.items()} for r in records], out, indent=2, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        fields = list(records[0]) if records else [c.key for c in columns]
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else plain(v) for k, v in record.items()})
        return
    cells = [[c.header for c in columns]] + [[c.show(r.get(c.key)) for c in columns] for r in records]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        line = "  ".join(
            text.rjust(width) if column.right else text.ljust(width)
            for text, width, column in zip(row, widths, columns, strict=True)
        )
        out.write(line.rstrip() + "\n")


def emit_or_notice(
    records: Sequence[dict[str, Any]], columns: Sequence[Column], fmt: str, what: str, out: TextIO | None
) -> None:
    """`emit`, or for an empty table the one-line notice `no {what}` on stderr."""
    if not records and fmt == "table":
        print(f"no {what}", file=sys.stderr)
    else:
        emit(records, columns, fmt, out)
