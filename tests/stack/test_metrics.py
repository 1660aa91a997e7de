"""The instrumentor's metrics reach Prometheus: real SDK calls against the stand-in, recorded by the real
instrumentor, exported over OTLP/HTTP to the real collector running collector-config.yaml, and scraped from its
`prometheus` exporter as Prometheus would. The Grafana dashboard's PromQL is checked against that scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.promql import dashboard_promql, label_names, metric_names, recorded_series, scraped_series
from tests.fixtures.stack import Collector
from tokentrail.dev.demo import wait_until
from tokentrail.dev.standin import ErrorReply, MessageReply, StandinServer, Usage

SERVICE = "metrics-e2e"
MODEL = "claude-sonnet-4-6"
# Anthropic's published list prices for the model, USD per million tokens (anthropic.com/pricing).
PRICE_INPUT, PRICE_OUTPUT, PRICE_CACHE_READ = 3.00, 15.00, 0.30
MESSAGES = [{"role": "user", "content": "How long do refunds take?"}]


@pytest.fixture
def meter_provider(collector: Collector) -> Iterator[MeterProvider]:
    """The `instrumented` fixture's meter provider: an application's OTLP/HTTP metric exporter to the collector
    (exporting when flushed)."""
    exporter = OTLPMetricExporter(endpoint=f"{collector.otlp_http_endpoint}/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": SERVICE}))
    yield provider
    provider.shutdown()


def samples(text: str, name: str, **labels: str) -> list[Any]:
    """The samples called `name` of this test's service whose labels include `labels`."""
    wanted = {"service_name": SERVICE, **labels}
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items())
    ]


def value(text: str, name: str, **labels: str) -> float:
    found = samples(text, name, **labels)
    assert len(found) == 1, (name, labels, found)
    return float(found[0].value)


def make_calls(client: anthropic.Anthropic, standin: StandinServer) -> None:
    """A plain call (1000 in, 200 out), a streamed one (400 in + 600 cache read, 50 out) and a refused one."""
    standin.enqueue(
        MessageReply(usage=Usage(input_tokens=1000, output_tokens=200)),
        MessageReply(usage=Usage(input_tokens=400, output_tokens=50, cache_read_input_tokens=600)),
        ErrorReply(400),
    )
    client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)
    stream = client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, stream=True)
    for _ in stream:
        pass
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)


def scrape_after_flush(collector: Collector, meter_provider: MeterProvider) -> str:
    assert meter_provider.force_flush()
    scraped = [""]

    def arrived() -> bool:
        scraped[0] = httpx.get(collector.prometheus_url, timeout=5).text
        return bool(samples(scraped[0], "tokentrail_client_cost_USD_total"))

    wait_until("the cost series at the collector's prometheus exporter", arrived, 30)
    return scraped[0]


def test_token_usage_and_cost_reach_prometheus(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    meter_provider: MeterProvider,
    collector: Collector,
) -> None:
    make_calls(anthropic_client, standin)
    text = scrape_after_flush(collector, meter_provider)
    ok = {"gen_ai_request_model": MODEL, "gen_ai_operation_name": "chat", "gen_ai_provider_name": "anthropic"}

    # Input tokens include the cache reads (semconv rule for Anthropic): 1000 and 400 + 600.
    tokens_in = {**ok, "gen_ai_token_type": "input"}
    assert value(text, "gen_ai_client_token_usage_sum", **tokens_in) == 2000
    assert value(text, "gen_ai_client_token_usage_count", **tokens_in) == 2
    assert value(text, "gen_ai_client_token_usage_bucket", **tokens_in, le="256") == 0
    assert value(text, "gen_ai_client_token_usage_bucket", **tokens_in, le="1024") == 2
    tokens_out = {**ok, "gen_ai_token_type": "output"}
    assert value(text, "gen_ai_client_token_usage_sum", **tokens_out) == 250
    assert value(text, "gen_ai_client_token_usage_count", **tokens_out) == 2
    assert value(text, "gen_ai_client_token_usage_bucket", **tokens_out, le="64") == 1  # the 50
    assert value(text, "gen_ai_client_token_usage_bucket", **tokens_out, le="256") == 2  # and the 200

    # Cost of the two answered calls; the refused one costs nothing.
    plain = 1000 * PRICE_INPUT + 200 * PRICE_OUTPUT
    streamed = 400 * PRICE_INPUT + 600 * PRICE_CACHE_READ + 50 * PRICE_OUTPUT
    expected = (plain + streamed) / 1e6
    assert sum(s.value for s in samples(text, "tokentrail_client_cost_USD_total", **ok)) == pytest.approx(expected)

    # Durations of all three calls, the refused one under its error type; time to first chunk of the stream only.
    durations = samples(text, "gen_ai_client_operation_duration_seconds_count", **ok)
    by_error = {s.labels.get("error_type", ""): s.value for s in durations}
    assert by_error == {"": 2, "invalid_request_error": 1}
    assert value(text, "gen_ai_client_operation_time_to_first_chunk_seconds_count", **ok) == 1


def test_dashboard_and_recorded_names_match_a_real_scrape(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    meter_provider: MeterProvider,
    collector: Collector,
) -> None:
    make_calls(anthropic_client, standin)
    scraped = scraped_series(scrape_after_flush(collector, meter_provider))

    # tests/deploy/prometheus_series.json (what tests without the collector check the dashboard against) is real.
    recorded = recorded_series()
    assert set(scraped) == set(recorded)
    for name, labels in recorded.items():
        assert labels <= scraped[name], name

    targets = dashboard_promql()
    assert len(targets) >= 4
    for title, target in targets:
        names = metric_names(target["expr"])
        assert names, title
        assert names <= set(scraped), title
        common = set.intersection(*(scraped[name] for name in names))
        assert label_names(target["expr"], target.get("legendFormat", "")) <= common, title
