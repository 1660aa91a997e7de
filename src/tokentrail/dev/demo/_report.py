"""What the demo prints: section headings, the workload summary, the CLI reports and where to look next."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tokentrail.dev.demo._postgres import pick_trace, redact_url
from tokentrail.dev.demo._services import APP_SERVICE_NAME
from tokentrail.dev.demo._workload import DemoResult
from tokentrail.errors import DemoError

__all__ = ["print_next_steps", "print_report", "print_workload", "run_cli", "say", "section"]


def say(text: str = "") -> None:
    print(text, flush=True)


def section(title: str) -> None:
    say()
    say(f"== {title} " + "=" * max(0, 72 - len(title)))


def run_cli(args: list[str], database_url: str) -> None:
    """`tokentrail ARGS --database-url URL` in this process, echoed as the command line it stands for."""
    from tokentrail import cli

    say("$ tokentrail " + " ".join(args))
    code = cli.main([*args, "--database-url", database_url])
    if code != 0:
        raise DemoError(f"`tokentrail {' '.join(args)}` exited with code {code}")


def print_workload(results: Sequence[DemoResult]) -> None:
    """One line per HTTP status: how many requests, to which paths, and their median time."""
    for status in sorted({result.status for result in results}):
        same = [result for result in results if result.status == status]
        paths = ", ".join(sorted({result.request.path for result in same}))
        median = statistics.median(result.seconds for result in same)
        say(f"HTTP {status or 'no answer'}: {len(same)} requests ({paths}), median {median:.2f} s")


def print_report(database_url: str, run_start: datetime, *, failures: bool) -> str | None:
    """The CLI's reports over this run (with `failures`, the failed calls too) and one request as a trace tree;
    returns that trace's id (None when the run stored no call)."""
    since = run_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    section("cost and latency by model")
    run_cli(["stats", "--by", "model", "--since", since], database_url)
    section("by user")
    run_cli(["stats", "--by", "user", "--since", since], database_url)
    section("prompt versions A/B")
    run_cli(["compare", "--prompt", "answer", "--since", since], database_url)
    if failures:
        section("what failed")
        run_cli(["calls", "--status", "error", "--since", since, "--limit", "5"], database_url)
    trace_id = pick_trace(database_url, APP_SERVICE_NAME, run_start)
    if trace_id:
        section("one request, step by step")
        run_cli(["trace", trace_id], database_url)
    return trace_id


def print_next_steps(
    jaeger_ui: str | None,
    trace_id: str | None,
    database_url: str,
    log_dir: Path,
    ready_seconds: float,
    *,
    ui_url: str | None = None,
    jaeger_has_ui: bool = False,
) -> None:
    """Where to see the run: the web UI first, then Jaeger (or why not), the CLI over the same database, the logs."""
    section("where to look next")
    if ui_url:
        say(f"UI:       {ui_url}/traces/{trace_id}" if trace_id else f"UI:       {ui_url}/")
    if jaeger_ui and jaeger_has_ui:
        say(f"Jaeger:   {jaeger_ui}/trace/{trace_id}" if trace_id else f"Jaeger:   {jaeger_ui}")
    elif jaeger_ui:
        say(
            f"Jaeger:   the locally built Jaeger at {jaeger_ui} serves the query API only (/api/v3); "
            "the compose stack's official image (deploy/) has the UI"
        )
    else:
        say("Jaeger:   not started; run `make stack` once to build the collector and Jaeger, then `make demo`")
    say(f"SQL/CLI:  TOKENTRAIL_DATABASE_URL={redact_url(database_url)} tokentrail calls --since 1h")
    say(f"logs:     {log_dir}")
    say(f"ready:    {ready_seconds:.1f} s after the start")
