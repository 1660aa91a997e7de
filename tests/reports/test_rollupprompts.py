"""tokentrail.reports.rollupprompts against reports.prompts / queries.compare_prompts, on random calls."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from tests.fixtures.randomcalls import bulk_insert, random_calls
from tokentrail.reports import queries, rollupprompts
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.prompts import prompt_names
from tokentrail.reports.rollupstats import MAX_RELATIVE_ERROR

pytestmark = pytest.mark.postgres

START = datetime(2026, 11, 16, 0, 0, tzinfo=timezone.utc)
RANGES = (
    (None, None),
    (START + timedelta(hours=5, minutes=17), START + timedelta(days=2, minutes=3)),
    (START + timedelta(hours=30, minutes=1), None),
)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        bulk_insert(connection, random_calls(random.Random(9), START, 200))
        yield connection


@pytest.mark.parametrize(("since", "until"), RANGES)
def test_prompt_names_match(conn: psycopg.Connection[Any], since: Any, until: Any) -> None:
    for where in (CallFilter(since=since, until=until), CallFilter(since=since, until=until, status="ok")):
        assert rollupprompts.prompt_names(conn, where) == prompt_names(conn, where)


@pytest.mark.parametrize(("since", "until"), RANGES)
@pytest.mark.parametrize("versions", [None, ["v2", "v1"], ["v9", "v1"]])
def test_versions_compare_like_every_call_read(
    conn: psycopg.Connection[Any], since: Any, until: Any, versions: Any
) -> None:
    got = rollupprompts.compare_prompts(conn, "support", versions, since, until)
    exact = queries.compare_prompts(conn, "support", versions, since, until)
    assert [(r.version, r.calls) for r in got] == [(r.version, r.calls) for r in exact]
    for g, e in zip(got, exact, strict=True):
        assert g.success_rate == pytest.approx(e.success_rate)
        assert g.mean_output_tokens == pytest.approx(e.mean_output_tokens)
        assert (g.mean_cost_usd is None) == (e.mean_cost_usd is None)
        if g.mean_cost_usd is not None and e.mean_cost_usd is not None:
            assert float(g.mean_cost_usd) == pytest.approx(float(e.mean_cost_usd))
        for name in ("latency_p50_ms", "latency_p95_ms"):
            a, b = getattr(g, name), getattr(e, name)
            assert (a is None) == (b is None)
            if a is not None:
                assert abs(a - b) <= MAX_RELATIVE_ERROR * b + 1e-6
