"""Metric points leave the caller's thread but are never lost: recorded at collection, in the background and
on flush, bounded when nothing drains them."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tokentrail.instrumentation.recorder import metricpump as _metricpump
from tokentrail.instrumentation.recorder.metricpump import FLUSH_INSTRUMENT, MetricPump


def _setup() -> tuple[InMemoryMetricReader, Any, list[Any]]:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    counter = meter.create_counter("calls")
    recorded: list[Any] = []

    def record(point: Any) -> None:
        recorded.append(point)
        counter.add(point, {"k": "v"})

    return reader, MetricPump(meter, record), recorded


def _values(reader: InMemoryMetricReader) -> dict[str, float]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        metric.name: sum(point.value for point in metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }


def test_collection_records_every_queued_point_first_and_the_flush_instrument_reports_nothing() -> None:
    reader, pump, recorded = _setup()
    for value in (1, 2, 3):
        pump.submit(value)
    values = _values(reader)  # a collection right after the calls sees them all
    assert values == {"calls": 6}
    assert FLUSH_INSTRUMENT not in values
    assert sorted(recorded) == [1, 2, 3]
    pump.close()


def _wait_for(recorded: list[Any], expected: list[Any]) -> None:
    deadline = time.monotonic() + 10
    while recorded != expected and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_point_past_the_threshold_wakes_the_drain_which_records_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_metricpump, "DRAIN_AT", 3)
    thread_wake = _metricpump._wake
    watched = threading.Event()  # seen by `submit`; the thread keeps waiting on its own event meanwhile
    monkeypatch.setattr(_metricpump, "_wake", watched)
    _reader, pump, recorded = _setup()
    for value in (1, 2, 3):
        pump.submit(value)
    assert not watched.is_set()  # three waiting: not yet a reason to wake the drain
    pump.submit(4)
    assert watched.is_set()
    monkeypatch.setattr(_metricpump, "_wake", thread_wake)
    thread_wake.set()  # what `submit` did, to the event the thread waits on
    _wait_for(recorded, [1, 2, 3, 4])
    assert recorded == [1, 2, 3, 4]
    pump.close()


def test_the_background_thread_drains_a_quiet_queue_on_its_idle_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_metricpump, "IDLE_DRAIN", 0.05)
    _metricpump._wake.set()  # the thread may be asleep on the old timer: start its next wait with the new one
    _reader, pump, recorded = _setup()
    pump.submit(5)
    _wait_for(recorded, [5])
    assert recorded == [5]
    pump.close()


def test_close_flushes_and_unregisters() -> None:
    _reader, pump, recorded = _setup()
    pump.submit(7)
    pump.close()
    assert recorded == [7]
    assert pump not in _metricpump._pumps


def test_a_point_that_fails_to_record_does_not_block_the_others() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    recorded: list[int] = []

    def record(point: int) -> None:
        if point == 2:
            raise RuntimeError("broken point")
        recorded.append(point)

    pump = MetricPump(meter, record)
    for value in (1, 2, 3):
        pump.submit(value)
    pump.flush()
    assert recorded == [1, 3]
    pump.close()


def test_pending_points_are_bounded_and_drops_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_metricpump, "MAX_PENDING", 3)
    _reader, pump, recorded = _setup()
    with pump._drain_lock:  # hold off the background drain while the queue fills
        for value in range(5):
            pump.submit(value)
    pump.flush()
    assert recorded == [0, 1, 2]
    assert pump.dropped == 2
    pump.close()
