from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.prompts import PromptRow, prompt_names

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def test_prompt_names_with_versions_in_order_of_first_use(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(T0 + timedelta(minutes=2), prompt_name="support", prompt_version="v2"),
            Call(T0, prompt_name="support", prompt_version="v1"),
            Call(T0, prompt_name="support", prompt_version="v1"),
            Call(T0, prompt_name="summary"),
            Call(T0),
        ],
    )
    assert prompt_names(conn, CallFilter()) == [
        PromptRow("support", ["v1", "v2"], 3),
        PromptRow("summary", [], 1),
    ]
    assert prompt_names(conn, CallFilter(since=T0 + timedelta(minutes=1))) == [PromptRow("support", ["v2"], 1)]
