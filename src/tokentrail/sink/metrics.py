"""The sink's own operational metrics, exposed in the Prometheus text format on `/metrics`.

`prometheus_client` is used directly rather than OTel metrics with a Prometheus reader: these are the service's
health numbers for whoever scrapes it (a pull endpoint, the format every scraper speaks), they must not travel
through the telemetry pipeline the sink itself is part of, and the direct client is one small dependency with
no SDK pipeline to configure. Each `SinkMetrics` has its own registry, so several sinks in one process (tests)
do not collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "SinkMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SinkMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "tokentrail_sink_requests",
            "Export requests answered, by transport and status.",
            ["transport", "status"],
            registry=r,
        )
        self.discarded = Counter(
            "tokentrail_sink_discarded_requests",
            "Export requests for signals the sink does not store (metrics, logs), by transport, signal and status.",
            ["transport", "signal", "status"],
            registry=r,
        )
        self.spans_received = Counter(
            "tokentrail_sink_spans_received", "Spans received in decodable requests.", registry=r
        )
        self.spans_stored = Counter(
            "tokentrail_sink_spans_stored", "Spans newly committed to the spans table.", registry=r
        )
        self.spans_duplicate = Counter(
            "tokentrail_sink_spans_duplicate",
            "Spans acknowledged that were already stored (client retries).",
            registry=r,
        )
        self.spans_rejected = Counter(
            "tokentrail_sink_spans_rejected", "Spans rejected individually (reported in partial_success).", registry=r
        )
        self.llm_calls_stored = Counter(
            "tokentrail_sink_llm_calls_stored", "Rows newly committed to llm_calls.", registry=r
        )
        self.content_bytes = Counter(
            "tokentrail_sink_content_bytes",
            "Content body bytes: distinct within each batch, and newly stored (the rest was deduplicated).",
            ["result"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "tokentrail_sink_batch_duration_seconds",
            "Time to write one batch, from taking a connection to commit.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.request_seconds = Histogram(
            "tokentrail_sink_request_duration_seconds",
            "Time from receiving an export request to answering it.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge("tokentrail_sink_inflight_requests", "Export requests being processed now.", registry=r)
        self.ready = Gauge(
            "tokentrail_sink_database_ready",
            "1 when the last write or readiness check reached a migrated Postgres, else 0.",
            registry=r,
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
