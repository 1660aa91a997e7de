"""The report commands' shared options: the filter parser and its mapping onto `CallFilter` (no database)."""

from __future__ import annotations

import argparse

import pytest

from tokentrail.cli import options
from tokentrail.errors import CommandError


def parse(*argv: str) -> argparse.Namespace:
    return options.filter_options().parse_args(list(argv))


def test_every_filter_option_reaches_its_call_filter_field() -> None:
    args = parse(
        "--since", "2026-11-18", "--until", "2026-11-19", "--status", "error", "--model", "m", "--user", "u",
        "--attr", "tenant_id=acme", "--attr", "plan=pro", "--min-latency", "1500ms", "--min-cost", "0.5",
        "--not-retried", "--prompt", "greeting@3", "--tool", "search", "--search", "Paris",
    )  # fmt: skip
    where = options.call_filter(args, limit=7)
    assert (where.status, where.model, where.user, where.tool, where.search) == ("error", "m", "u", "search", "Paris")
    assert where.attrs == (("tenant_id", "acme"), ("plan", "pro"))
    assert where.min_latency_ms == 1500.0
    assert where.retried is False
    assert where.prompt == "greeting@3"
    assert where.limit == 7
    assert where.since is not None
    assert where.until is not None
    assert where.since < where.until


def test_the_default_start_applies_only_without_since() -> None:
    assert options.call_filter(parse(), since="7d").since is not None
    assert options.call_filter(parse()).since is None
    assert options.call_filter(parse()).limit == options.DEFAULT_LIMIT


def test_a_bad_value_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse("--min-latency", "soon")
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--min-latency" in line


def test_an_inconsistent_filter_is_a_command_error() -> None:
    with pytest.raises(CommandError) as error:
        options.call_filter(parse("--since", "2026-11-19", "--until", "2026-11-18"))
    assert error.value.code == 2
