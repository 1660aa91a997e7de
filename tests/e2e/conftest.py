"""End-to-end fixtures: the real sink and the example app as subprocesses, wired to the stand-in and the stack.

Processes are started through `tokentrail.dev.demo`'s supervisor (each in its own process group, output to a log file
under the test's tmp_path); every one is stopped at teardown, and when a test fails the end of each log is printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.stack import Collector, Jaeger, StartCollector
from tokentrail.dev.demo import (
    Service,
    Sink,
    Supervisor,
    app_environment,
    bearer,
    free_port,
    http_ok,
    start_app,
    start_sink,
    wait_until,
)
from tokentrail.dev.standin import StandinServer

APP_SERVICE = "e2e-answer-service"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell at teardown whether the test failed."""
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


@pytest.fixture
def supervisor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Supervisor]:
    processes = Supervisor(tmp_path / "logs")
    yield processes
    failed = any(
        getattr(getattr(request.node, f"e2e_report_{when}", None), "failed", False) for when in ("setup", "call")
    )
    if failed:
        for service in processes.services:
            code = service.process.poll()
            print(f"--- {service.name} (exit code {code}), end of {service.log_path}:\n{service.tail(40)}")
    processes.stop_all()


@dataclass
class SinkControl:
    """The sink on a fixed port and token, so it can be stopped and started again where the collector expects it."""

    supervisor: Supervisor
    database_url: str
    port: int
    token: str
    current: Sink | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def traces_url(self) -> str:
        return f"{self.url}/v1/traces"

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the sink's own metric samples called `name` whose labels include `labels` (0 if absent)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def start(self) -> Sink:
        assert self.current is None or not self.current.service.alive(), "the sink is already running"
        self.current = start_sink(
            self.supervisor, self.database_url, _inherited_env(), port=self.port, token=self.token
        )
        return self.current

    def stop(self) -> None:
        if self.current is not None:
            self.current.service.stop()
            wait_until("the sink to stop answering", lambda: not http_ok(f"{self.url}/healthz"), 10)


@pytest.fixture
def sink(supervisor: Supervisor, database_url: str) -> Iterator[SinkControl]:
    """The real sink on `database_url`; stopped at teardown, after the collector and the app that feed it."""
    control = SinkControl(supervisor, database_url, free_port(), token="e2e-sink-token")
    control.start()
    yield control
    control.stop()


@dataclass
class AnswerApp:
    """The example FastAPI app running under `opentelemetry-instrument`."""

    service: Service
    url: str


@pytest.fixture
def start_answer_app(supervisor: Supervisor, standin: StandinServer) -> Iterator[Callable[..., AnswerApp]]:
    """Start examples/fastapi_app (zero-code instrumented) against the stand-in, exporting OTLP to `endpoint`.
    The apps stop first at teardown (flushing their spans), before the collector and the sink."""
    started: list[AnswerApp] = []

    def start(endpoint: str, *, token: str | None = None, name: str = "app") -> AnswerApp:
        env = app_environment(
            _inherited_env(),
            otlp_endpoint=endpoint,
            otlp_headers=bearer(token) if token else None,
            anthropic_base_url=standin.base_url,
            service_name=APP_SERVICE,
        )
        service, url = start_app(supervisor, env, name=name)
        started.append(AnswerApp(service, url))
        return started[-1]

    yield start
    for app in started:
        app.service.stop()


def _inherited_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "TOKENTRAIL_"))}


def count_rows(database_url: str, sql: str, *params: Any) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def wait_for_rows(database_url: str, sql: str, *params: Any, expected: int, timeout: float = 60.0) -> int:
    """Poll `sql` (a count) until it reaches `expected`, within `timeout` seconds; return the count."""
    seen = [0]

    def reached() -> bool:
        seen[0] = count_rows(database_url, sql, *params)
        return seen[0] >= expected

    wait_until(f"{expected} rows from {sql!r}", reached, timeout)
    return seen[0]


@pytest.fixture
def collector(start_collector: StartCollector, jaeger: Jaeger, sink: SinkControl) -> Iterator[Collector]:
    """The stack fixtures' collector, exporting to this test's sink; stopped before the sink is (so shutdown does
    not wait on a sink that is gone)."""
    running = start_collector(jaeger_endpoint=jaeger.otlp_grpc_endpoint, sink_endpoint=sink.url, sink_token=sink.token)
    yield running
    running.stop()
