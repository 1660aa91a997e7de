"""Sink fixtures: a real sink (uvicorn in a background thread) in front of the test's fresh database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tokentrail.sink.server import BackgroundSink, SinkConfig

SinkFactory = Callable[..., BackgroundSink]


def wait_ready(sink: BackgroundSink, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if httpx.get(sink.url + "/readyz").status_code == 200:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the sink did not become ready")
        time.sleep(0.02)


@pytest.fixture
def sink_factory(database_url: str) -> Iterator[SinkFactory]:
    """Start sinks with config overrides (port 0, the test database); all are stopped after the test."""
    started: list[BackgroundSink] = []

    def make(**overrides: Any) -> BackgroundSink:
        values: dict[str, Any] = {"database_url": database_url, "port": 0, "acquire_timeout": 2.0}
        values.update(overrides)
        sink = BackgroundSink(SinkConfig(**values))
        sink.start()
        started.append(sink)
        wait_ready(sink)
        return sink

    yield make
    for sink in started:
        sink.stop()


@pytest.fixture
def sink(sink_factory: SinkFactory) -> BackgroundSink:
    return sink_factory()


@pytest.fixture
def client(sink: BackgroundSink) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sink.url, timeout=30) as http:
        yield http
