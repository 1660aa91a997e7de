"""The provisioned Grafana dashboard (deploy/grafana/) against a real, migrated Postgres with data.

Grafana is not run here. Instead every panel query is expanded the way Grafana's PostgreSQL data source expands it
(the `$__interval` / `$__unixEpoch*` substitutions of Grafana's SQL engine, then the PostgreSQL macro engine:
`$__timeFilter`, `$__timeGroupAlias`, `$__time`, ... with the same regular expression, the same argument splitting
and the same output text), run against a database filled with known calls, and checked for its columns and values.
The metric panels' PromQL is checked against the series names and labels of a real scrape of the collector
(tests/deploy/prometheus_series.json, kept in step by tests/stack/test_metrics.py). The provisioning files are
checked for what Grafana needs to load them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.fixtures.promql import PROMETHEUS_UID, dashboard_promql, label_names, metric_names, recorded_series
from tests.fixtures.rows import Call, insert

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "tokentrail.json"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "postgres.yaml"
PROMETHEUS_DATASOURCE = GRAFANA / "provisioning" / "datasources" / "prometheus.yaml"
PROVIDER = GRAFANA / "provisioning" / "dashboards" / "tokentrail.yaml"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FROM = NOW - timedelta(days=7)
INTERVAL = timedelta(hours=1)


# --- a faithful expander of Grafana's PostgreSQL macros ------------------------------------------------------

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
"""Grafana's `sExpr`: `$name(args)`, the arguments being everything up to the first `)`."""
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 30 * 86400, "y": 365 * 86400}


class MacroError(ValueError):
    """Grafana would answer this query with a macro error."""


def rfc3339_nano(moment: datetime) -> str:
    """Go's `time.RFC3339Nano` of a UTC time: fractional seconds without trailing zeros, `Z` suffix."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def go_number(value: float) -> str:
    """Go's `%v` of a float64 as Grafana prints interval seconds (3600, 0.5)."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def format_interval(interval: timedelta) -> str:
    """Grafana's `gtime.FormatInterval`: the largest unit that fits, truncated."""
    ms = int(interval.total_seconds() * 1000)
    for unit, size in (("y", 365 * 86400_000), ("d", 86400_000), ("h", 3600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{ms}ms" if ms >= 1 else "1ms"


def parse_interval(text: str) -> float:
    """Grafana's `gtime.ParseInterval` for the forms dashboards use (`5m`, `1h`, `1d`, `1w`): seconds."""
    match = _INTERVAL.fullmatch(text.strip().strip("'"))
    if match is None:
        raise MacroError(f"error parsing interval {text}")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def expand(sql: str, start: datetime, end: datetime, interval: timedelta) -> str:
    """The SQL Grafana's PostgreSQL data source sends for `sql` over [start, end] (TimescaleDB off)."""
    # sqleng.Interpolate: plain substitutions first ($__interval_ms before $__interval).
    sql = sql.replace("$__interval_ms", str(int(interval.total_seconds() * 1000)))
    sql = sql.replace("$__interval", format_interval(interval))
    sql = sql.replace("$__unixEpochFrom()", str(int(start.timestamp())))
    sql = sql.replace("$__unixEpochTo()", str(int(end.timestamp())))
    original = sql

    def evaluate(name: str, args: list[str]) -> str:
        def need(count: int, message: str) -> None:
            if len(args) < count or (count and not args[0]):
                raise MacroError(message)

        if name == "__time":
            need(1, f"missing time column argument for macro {name}")
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            need(1, f"missing time column argument for macro {name}")
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            need(1, f"missing time column argument for macro {name}")
            return f"{args[0]} BETWEEN '{rfc3339_nano(start)}' AND '{rfc3339_nano(end)}'"
        if name == "__timeFrom":
            return f"'{rfc3339_nano(start)}'"
        if name == "__timeTo":
            return f"'{rfc3339_nano(end)}'"
        if name in ("__timeGroup", "__unixEpochGroup"):
            need(2, f"macro {name} needs time column and interval and optional fill value")
            seconds = go_number(parse_interval(args[1]))
            if name == "__timeGroup":
                return f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
            return f"floor(({args[0]})/{seconds})*{seconds}"
        if name in ("__timeGroupAlias", "__unixEpochGroupAlias"):
            return evaluate(name.removesuffix("Alias"), args) + ' AS "time"'
        if name == "__unixEpochFilter":
            need(1, f"missing time column argument for macro {name}")
            return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
        raise MacroError(f"unknown macro {name!r}")

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        # Grafana: `$__timeGroup(...)` directly followed by a comma means the pre-5.3 aliased form.
        if name == "__timeGroup":
            index = original.find(match[0])
            if index >= 0 and original[index + len(match[0]) : index + len(match[0]) + 1] == ",":
                name = "__timeGroupAlias"
        return evaluate(name, [arg.strip(" ") for arg in match[2].split(",")])

    return _MACRO.sub(replace, sql)


def test_expander_matches_grafana_output() -> None:
    """The expansions Grafana's own macro tests document, for a known range."""
    start = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
    end = start + timedelta(minutes=5, microseconds=500000)
    assert expand("WHERE $__timeFilter(time_column)", start, end, INTERVAL) == (
        "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00.5Z'"
    )
    assert expand("GROUP BY $__timeGroup(time_column,'5m')", start, end, INTERVAL) == (
        "GROUP BY floor(extract(epoch from time_column)/300)*300"
    )
    assert expand("SELECT $__timeGroup(time_column,'5m'), 1", start, end, INTERVAL) == (
        'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", 1'
    )
    assert expand("SELECT $__timeGroupAlias(t, $__interval)", start, end, timedelta(minutes=10)) == (
        'SELECT floor(extract(epoch from t)/600)*600 AS "time"'
    )
    assert expand("$__time(t), $__timeFrom(), $__interval_ms", start, end, timedelta(seconds=30)) == (
        "t AS \"time\", '2018-04-12T18:00:00Z', 30000"
    )
    with pytest.raises(MacroError, match="unknown macro"):
        expand("SELECT $__nope(x)", start, end, INTERVAL)


# --- the dashboard ------------------------------------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def _targets() -> list[tuple[str, dict[str, Any]]]:
    """(panel title, target) of every SQL query of the dashboard."""
    return [
        (panel["title"], target)
        for panel in _panels(_dashboard())
        for target in panel.get("targets", [])
        if target.get("rawSql")
    ]


def _panel_types() -> dict[str, str]:
    return {panel["title"]: panel["type"] for panel in _panels(_dashboard())}


def _datasource(path: Path = DATASOURCE) -> dict[str, Any]:
    provisioned = yaml.safe_load(path.read_text())
    (source,) = provisioned["datasources"]
    return dict(source)


def test_dashboard_is_well_formed() -> None:
    dashboard = _dashboard()
    postgres, prometheus = _datasource()["uid"], _datasource(PROMETHEUS_DATASOURCE)["uid"]
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    data_panels = [panel for panel in _panels(dashboard) if panel["type"] != "row"]
    assert data_panels
    for panel in data_panels:
        uid = panel["datasource"]["uid"]
        assert uid in (postgres, prometheus), panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
            if uid == prometheus:
                assert target["expr"].strip(), panel["title"]
                continue
            assert target["rawQuery"] is True, panel["title"]
            assert target["format"] in ("table", "time_series"), panel["title"]
            sql = target["rawSql"]
            assert "$__timeFilter(" in sql, f"{panel['title']}: every query must follow the dashboard time range"
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_provisioning_files() -> None:
    source = _datasource()
    assert source["type"] == "grafana-postgresql-datasource"
    assert source["jsonData"]["database"] == "${TOKENTRAIL_GRAFANA_DB_NAME}"
    assert source["secureJsonData"]["password"] == "${TOKENTRAIL_GRAFANA_DB_PASSWORD}"
    (provider,) = yaml.safe_load(PROVIDER.read_text())["providers"]
    assert provider["type"] == "file"
    if COMPOSE.exists():
        compose = yaml.safe_load(COMPOSE.read_text())
        grafana = compose["services"].get("grafana")
        if grafana is not None:
            mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"]}
            provisioning = Path("/etc/grafana/provisioning")
            for path in (DATASOURCE, PROVIDER):
                target = provisioning / path.relative_to(GRAFANA / "provisioning")
                assert (COMPOSE.parent / mounts[str(target)]).resolve() == path
            dashboard = mounts[f"{provider['options']['path']}/{DASHBOARD.name}"]
            assert (COMPOSE.parent / dashboard).resolve() == DASHBOARD
            wanted = set(re.findall(r"\$\{(\w+)\}", json.dumps(source)))
            assert len(wanted) == 5, wanted
            assert wanted <= set(grafana["environment"]), "every variable the data source uses is set"
            target = provisioning / PROMETHEUS_DATASOURCE.relative_to(GRAFANA / "provisioning")
            assert (COMPOSE.parent / mounts[str(target)]).resolve() == PROMETHEUS_DATASOURCE
            url = grafana["environment"][_datasource(PROMETHEUS_DATASOURCE)["url"].strip("${}")]
            host, port = url.removeprefix("http://").split(":")
            assert host in compose["services"], "Grafana reads the compose file's Prometheus"
            assert "--web.listen-address" not in " ".join(compose["services"][host].get("command", []))
            assert port == "9090", "Prometheus' default port"


def test_prometheus_datasource() -> None:
    source = _datasource(PROMETHEUS_DATASOURCE)
    assert source["type"] == "prometheus"
    assert source["uid"] == PROMETHEUS_UID
    assert source["url"] == "${TOKENTRAIL_GRAFANA_PROMETHEUS_URL}"
    assert source["uid"] != _datasource()["uid"]
    assert not source.get("isDefault"), "the Postgres panels rely on the default data source"


# --- the metric panels: PromQL over the series the collector serves ----------------------------------------------

METRIC_PANELS = {"Cost rate", "Token rate", "Error rate (live)", "p95 latency (live)"}


def test_metric_panels_query_series_the_collector_serves() -> None:
    series = recorded_series()
    targets = dashboard_promql()
    assert {title for title, _ in targets} == METRIC_PANELS
    for title, target in targets:
        expr = target["expr"]
        names = metric_names(expr)
        assert names, f"{title}: no series selected"
        assert names <= set(series), f"{title}: {names - set(series)} are not served by the collector"
        common = set.intersection(*(series[name] for name in names))
        labels = label_names(expr, target.get("legendFormat", ""))
        assert labels <= common, f"{title}: labels {labels - common} are not on {names}"
        # Counters and histograms only through rate() over Grafana's rate interval, so resets and scrape gaps are
        # handled; the selector count equals the rate() count.
        assert expr.count("rate(") == len(re.findall(r"\[\$__rate_interval\]", expr)), title
        assert expr.count("(") == expr.count(")"), title
    queried = {name for _, target in targets for name in metric_names(target["expr"])}
    assert {"tokentrail_client_cost_USD_total", "gen_ai_client_token_usage_sum"} <= queried
    assert "gen_ai_client_operation_duration_seconds_bucket" in queried


def test_metric_selector_parsing() -> None:
    """The helpers the metric-panel check relies on read PromQL as written."""
    expr = 'sum by (model, le) (rate(a_total{error_type!="", x=~"y"}[$__rate_interval])) / rate(b_count[5m])'
    assert metric_names(expr) == {"a_total", "b_count"}
    assert label_names(expr, "{{model}} {{ kind }}") == {"model", "le", "error_type", "x", "kind"}


# --- every query against real data -------------------------------------------------------------------------

DAY = timedelta(days=1)


def _calls() -> list[Call]:
    """Calls on three days inside the range, one day before it (which no panel may show), with known totals."""
    calls: list[Call] = []
    for day in range(3):
        base = NOW - timedelta(days=day, hours=2)
        calls += [
            Call(
                base,
                800.0,
                "claude-sonnet-4-6",
                input_tokens=1000,
                output_tokens=200,
                cache_read=600,
                cost=Decimal("0.01"),
                user="alice",
                prompt_name="answer",
                prompt_version="v1",
                ttfc_ms=150.0,
            ),
            Call(
                base + timedelta(minutes=5),
                1200.0,
                "claude-sonnet-4-6",
                input_tokens=2000,
                output_tokens=300,
                cache_read=0,
                cost=Decimal("0.02"),
                user="bob",
                prompt_name="answer",
                prompt_version="v2",
            ),
            Call(
                base + timedelta(minutes=9),
                300.0,
                "claude-haiku-4-5",
                input_tokens=500,
                output_tokens=50,
                cache_read=0,
                cost=Decimal("0.001"),
                user="alice",
            ),
            Call(
                base + timedelta(minutes=12),
                50.0,
                "claude-sonnet-4-6",
                status="error",
                error_type="overloaded_error",
                error_message="Overloaded",
                input_tokens=None,
                output_tokens=None,
                cache_read=None,
                cache_write=None,
                cost=None,
                user=None,
                prompt_name="answer",
                prompt_version="v2",
            ),
        ]
    calls.append(Call(FROM - 2 * DAY, 99_000.0, "claude-opus-4-1", cost=Decimal("99"), user="mallory"))
    return calls


EXPECTED_COST = 3 * (0.01 + 0.02 + 0.001)


Check = Callable[[list[str], list[tuple[Any, ...]]], None]


def _column(columns: list[str], rows: list[tuple[Any, ...]], name: str) -> list[Any]:
    return [row[columns.index(name)] for row in rows]


def _moment(value: Any) -> datetime:
    """A `time` value as Grafana reads it: a timestamp, a date (UTC midnight) or epoch seconds."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def _approx(value: Any, expected: float) -> bool:
    return value is not None and abs(float(value) - expected) < 1e-9


def _stat(name: str, expected: float) -> Check:
    def check(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        assert columns == [name]
        assert len(rows) == 1
        assert _approx(rows[0][0], expected), rows

    return check


def _series(value_columns: set[str], metrics: set[str] | None = None) -> Check:
    """A long-format time series: `time` first, sorted, values numeric, `metric` names as given."""

    def check(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        assert columns[0] == "time"
        assert set(columns[1:]) - {"metric"} == value_columns
        assert rows, "a series over the range with data must have points"
        times = [_moment(value) for value in _column(columns, rows, "time")]
        assert times == sorted(times)
        # Daily views are filtered by day, so the first (partial) UTC day of the range is included whole.
        assert all(FROM - DAY < moment <= NOW for moment in times), times
        for name in value_columns:
            values = [v for v in _column(columns, rows, name) if v is not None]
            assert values, name
            assert all(float(v) >= 0 for v in values), name
        if metrics is not None:
            assert set(_column(columns, rows, "metric")) == metrics

    return check


def _table(expected_columns: list[str], check_rows: Callable[[list[dict[str, Any]]], None]) -> Check:
    def check(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        assert columns == expected_columns
        check_rows([dict(zip(columns, row, strict=True)) for row in rows])

    return check


def _tokens_by_model(rows: list[dict[str, Any]]) -> None:
    by_model = {row["model"]: row for row in rows}
    assert set(by_model) == {"claude-sonnet-4-6", "claude-haiku-4-5"}
    assert by_model["claude-sonnet-4-6"]["input_tokens"] == 3 * 3000
    assert by_model["claude-sonnet-4-6"]["calls"] == 9
    assert _approx(by_model["claude-haiku-4-5"]["cost_usd"], 0.003)
    assert rows[0]["model"] == "claude-sonnet-4-6", "ordered by cost"


def _recent_errors(rows: list[dict[str, Any]]) -> None:
    assert len(rows) == 3
    assert {row["error_type"] for row in rows} == {"overloaded_error"}
    assert [row["time"] for row in rows] == sorted((row["time"] for row in rows), reverse=True)
    assert all(len(row["trace_id"]) == 32 for row in rows)


def _top_users(rows: list[dict[str, Any]]) -> None:
    assert [row["user_id"] for row in rows] == ["bob", "alice", "(no user)"]
    assert _approx(rows[0]["cost_usd"], 0.06)
    assert rows[0]["calls"] == 3
    assert _approx(rows[1]["cost_usd"], 0.033)
    assert rows[1]["calls"] == 6


def _prompt_versions(rows: list[dict[str, Any]]) -> None:
    by_version = {(row["prompt_name"], row["prompt_version"]): row for row in rows}
    assert set(by_version) == {("answer", "v1"), ("answer", "v2")}
    v1, v2 = by_version["answer", "v1"], by_version["answer", "v2"]
    assert v1["calls"] == 3
    assert _approx(v1["success_rate"], 1.0)
    assert _approx(v1["mean_cost_usd"], 0.01)
    assert v2["calls"] == 6
    assert _approx(v2["success_rate"], 0.5)
    assert _approx(v2["mean_cost_usd"], 0.02)
    assert v2["p50_ms"] <= v2["p95_ms"]


def _cache_ratio(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    _series({"cache_hit_ratio"}, {"claude-sonnet-4-6", "claude-haiku-4-5"})(columns, rows)
    ratios = {
        metric: value
        for metric, value in zip(
            _column(columns, rows, "metric"), _column(columns, rows, "cache_hit_ratio"), strict=True
        )
    }
    assert _approx(ratios["claude-sonnet-4-6"], 600 / 3000)
    assert _approx(ratios["claude-haiku-4-5"], 0.0)


def _error_rate(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    _series({"error_rate"}, {"claude-sonnet-4-6"})(columns, rows)
    assert all(_approx(value, 1 / 3) for value in _column(columns, rows, "error_rate"))


def _latency(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    _series({"p50", "p95", "p99", "ttfc_p95"})(columns, rows)
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        assert values["p50"] <= values["p95"] <= values["p99"] <= 1200.0


def _p95(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    assert columns == ["p95_ms"]
    assert len(rows) == 1
    assert 800.0 < rows[0][0] <= 1200.0, rows


EXPECTATIONS: dict[str, Check] = {
    "Cost": _stat("cost_usd", EXPECTED_COST),
    "Calls": _stat("calls", 12),
    "Error rate": _stat("error_rate", 0.25),
    "Cache hit ratio": _stat("cache_hit_ratio", 3 * 600 / (3 * 3500)),
    "p95 latency": _p95,
    "Users": _stat("users", 2),
    "Daily cost by model": _series({"cost_usd"}, {"claude-sonnet-4-6", "claude-haiku-4-5"}),
    "Cost over time": _series({"cost_usd"}, {"claude-sonnet-4-6", "claude-haiku-4-5"}),
    "Tokens by model": _series(
        {"tokens"},
        {"claude-sonnet-4-6 input", "claude-sonnet-4-6 output", "claude-haiku-4-5 input", "claude-haiku-4-5 output"},
    ),
    "Tokens and cost by model": _table(
        ["model", "calls", "input_tokens", "output_tokens", "cost_usd"], _tokens_by_model
    ),
    "Latency percentiles": _latency,
    "p95 latency by model (daily)": _series({"p95_ms"}, {"claude-sonnet-4-6", "claude-haiku-4-5"}),
    "Errors by type": _series({"errors"}, {"overloaded_error"}),
    "Error rate by model": _error_rate,
    "Recent errors": _table(["time", "model", "error_type", "error_message", "user_id", "trace_id"], _recent_errors),
    "Top users by cost": _table(["user_id", "calls", "input_tokens", "output_tokens", "cost_usd"], _top_users),
    "Cache hit ratio by model": _cache_ratio,
    "Prompt version A/B": _table(
        [
            "prompt_name",
            "prompt_version",
            "calls",
            "success_rate",
            "p50_ms",
            "p95_ms",
            "mean_cost_usd",
            "mean_output_tokens",
        ],
        _prompt_versions,
    ),
}


def test_every_panel_has_an_expectation() -> None:
    assert sorted(title for title, _ in _targets()) == sorted(EXPECTATIONS)


@pytest.fixture
def filled_database(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        insert(conn, _calls())
        yield conn


@pytest.mark.postgres
@pytest.mark.parametrize(("title", "target"), _targets(), ids=[title for title, _ in _targets()])
def test_panel_query(filled_database: psycopg.Connection[Any], title: str, target: dict[str, Any]) -> None:
    sql = expand(target["rawSql"], FROM, NOW, INTERVAL)
    assert "$" not in sql, f"unexpanded macro or variable left in {title!r}: {sql}"
    cursor = filled_database.execute(sql)
    assert cursor.description is not None
    columns = [column.name for column in cursor.description]
    EXPECTATIONS[title](columns, cursor.fetchall())


@pytest.mark.postgres
def test_panels_are_empty_outside_the_data(filled_database: psycopg.Connection[Any]) -> None:
    """A range with no calls gives no series points and no table rows (and zero-valued stats), never an error."""
    start, end = NOW + 30 * DAY, NOW + 37 * DAY
    types = _panel_types()
    for title, target in _targets():
        rows = filled_database.execute(expand(target["rawSql"], start, end, INTERVAL)).fetchall()
        if types[title] == "stat":
            assert len(rows) == 1, title
            assert rows[0][0] in (0, None), (title, rows)
        else:
            assert rows == [], title
