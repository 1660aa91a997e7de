"""Message Batches: create records the request count, results the summed usage and the batch-discounted cost."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from tests.fixtures.spans import MODEL, USER, attrs, llm_spans, only_span
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic.batches import BatchResultsAccumulator

pytestmark = pytest.mark.usefixtures("instrumented")

REQUESTS = [{"custom_id": f"r{i}", "params": {"model": MODEL, "max_tokens": 30, "messages": USER}} for i in range(3)]


def _usage_total(results) -> tuple[int, int]:
    inputs = outputs = 0
    for item in results:
        usage = item.result.message.usage
        inputs += usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
        outputs += usage.output_tokens
    return inputs, outputs


@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta"])
def test_create_retrieve_results(anthropic_client, span_exporter, beta):
    batches = anthropic_client.beta.messages.batches if beta else anthropic_client.messages.batches
    batch = batches.create(requests=REQUESTS)
    create = only_span(span_exporter)
    assert create.name == f"batch.create {MODEL}"
    assert attrs(create)[anthropic_contract.BATCH_REQUEST_COUNT] == 3
    assert attrs(create)[anthropic_contract.BATCH_ID] == batch.id
    assert semconv.COST_USD not in attrs(create)
    span_exporter.clear()

    batches.retrieve(batch.id)
    retrieve = only_span(span_exporter)
    assert retrieve.name == "batch.retrieve"
    assert attrs(retrieve)[anthropic_contract.BATCH_ID] == batch.id
    span_exporter.clear()

    results = list(batches.results(batch.id))
    # `results` retrieves the batch, then downloads: one call, one span
    span = only_span(span_exporter)
    a = attrs(span)
    assert span.name.startswith("batch.results")
    assert a[anthropic_contract.BATCH_ID] == batch.id
    assert len(results) == 3
    inputs, outputs = _usage_total(results)
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == inputs
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == outputs
    # haiku-4-5 at the 50% batch discount: $0.50 input, $2.50 output per MTok (no cache in these requests)
    assert a[semconv.COST_USD] == pytest.approx((inputs * 0.5 + outputs * 2.5) / 1e6)


async def test_async_results(async_anthropic_client, span_exporter):
    batches = async_anthropic_client.messages.batches
    batch = await batches.create(requests=REQUESTS[:2])
    results = [item async for item in await batches.results(batch.id)]
    spans = llm_spans(span_exporter)
    assert [s.name.split(" ")[0] for s in spans] == ["batch.create", "batch.results"]
    assert attrs(spans[1])[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == _usage_total(results)[1]


def test_batch_results_accumulator_sums_per_model():
    def item(model: str, inp: int, out: int, kind: str = "succeeded"):
        message = {"id": "m", "model": model, "usage": {"input_tokens": inp, "output_tokens": out}}
        return NS(result=NS(type=kind, message=message if kind == "succeeded" else None))

    accumulator = BatchResultsAccumulator()
    for entry in (item("a", 1, 2), item("b", 10, 20), item("a", 100, 200), item("a", 5, 5, "errored")):
        assert accumulator.add(entry) is False
    accumulator.finish()
    response = accumulator.response()
    assert accumulator.complete
    assert (response.usage.input_tokens, response.usage.output_tokens) == (111, 222)
    a = response.attributes
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (111, 222)
    assert response.usage_by_model["a"].input_tokens == 101
    assert response.usage_by_model["b"].output_tokens == 20
    assert response.model is None
