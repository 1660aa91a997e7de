"""Message batches: `batches.create` / `retrieve` / `results` requests, the batch response, and the results'
accumulator (usage summed per model, priced with the batch discount by the recorder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.contract.shapes import field, reader
from tokentrail.instrumentation.anthropic.client import base_attributes
from tokentrail.instrumentation.anthropic.responses import response_of
from tokentrail.instrumentation.recorder.records import Request, Response
from tokentrail.pricing import Usage

__all__ = ["BatchResultsAccumulator", "batch_request", "batch_response"]

_PROVIDER = anthropic_contract.PROVIDER
_read_usage = anthropic_contract.read_usage
_NO_USAGE = anthropic_contract.Usage()


def batch_request(operation: str, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Request:
    """`batches.create` (request count, the model when all requests share one), `retrieve` and `results` (id)."""
    attributes, address, port, signed = base_attributes(operation, instance)
    model: str | None = None
    if operation == semconv.OP_BATCH_CREATE:
        requests = kwargs.get("requests")
        if isinstance(requests, (list, tuple)):
            attributes[anthropic_contract.BATCH_REQUEST_COUNT] = len(requests)
            models = {field(field(item, "params"), "model") for item in requests}
            if len(models) == 1:
                only = models.pop()
                if type(only) is str:
                    model = only
                    attributes[semconv.GEN_AI_REQUEST_MODEL] = only
    else:
        batch_id = args[0] if args else kwargs.get("message_batch_id")
        if type(batch_id) is str:
            attributes[anthropic_contract.BATCH_ID] = batch_id
    return Request(
        operation,
        model,
        attributes,
        _PROVIDER,
        billable=operation == semconv.OP_BATCH_RESULTS,
        batch=True,
        server_address=address,
        server_port=port,
        signed=signed,
    )


def batch_response(batch: Any) -> Response | None:
    """A `MessageBatch`: its id."""
    batch_id = field(batch, "id")
    if type(batch_id) is not str:
        return None
    return Response(id=batch_id, attributes={anthropic_contract.BATCH_ID: batch_id})


def _add(total: int | None, part: int | None) -> int | None:
    return total if part is None else (total or 0) + part


class BatchResultsAccumulator:
    """Sums the usage of a batch's succeeded results, in total and per model."""

    __slots__ = ("_by_model", "_total", "complete")

    def __init__(self) -> None:
        self._total: anthropic_contract.Usage | None = None
        self._by_model: dict[str, Usage] = {}
        self.complete = False

    def add(self, item: Any) -> bool:
        result = getattr(item, "result", None)
        if field(result, "type") != "succeeded":
            return False
        get = reader(field(result, "message"))
        usage = get("usage")
        if usage is None and get("id") is None:
            return False  # not a message
        part = _read_usage(usage) or _NO_USAGE
        total = self._total or _NO_USAGE
        self._total = anthropic_contract.Usage(
            input_tokens=(total.input_tokens or 0) + (part.input_tokens or 0),
            output_tokens=(total.output_tokens or 0) + (part.output_tokens or 0),
            cache_read_tokens=_add(total.cache_read_tokens, part.cache_read_tokens),
            cache_write_5m_tokens=_add(total.cache_write_5m_tokens, part.cache_write_5m_tokens),
            cache_write_1h_tokens=_add(total.cache_write_1h_tokens, part.cache_write_1h_tokens),
            web_search_requests=_add(total.web_search_requests, part.web_search_requests),
        )
        model = get("model")
        model = model if type(model) is str else ""
        before = self._by_model.get(model)
        self._by_model[model] = Usage(
            input_tokens=(part.input_tokens or 0) + (before.input_tokens if before else 0),
            output_tokens=(part.output_tokens or 0) + (before.output_tokens if before else 0),
            cache_read_tokens=(part.cache_read_tokens or 0) + (before.cache_read_tokens if before else 0),
            cache_write_5m_tokens=(part.cache_write_5m_tokens or 0) + (before.cache_write_5m_tokens if before else 0),
            cache_write_1h_tokens=(part.cache_write_1h_tokens or 0) + (before.cache_write_1h_tokens if before else 0),
            web_search_requests=(part.web_search_requests or 0) + (before.web_search_requests if before else 0),
        )
        return False

    def finish(self) -> None:
        """The results were read to the end."""
        self.complete = True

    def response(self) -> Response:
        model = None
        by_model = self._by_model
        if by_model:
            models = [m for m in by_model if m]
            if len(models) == 1:
                model = models[0]
        response = response_of(None, model, None, self._total)
        if by_model and "" not in by_model:
            response.usage_by_model = dict(by_model)
        return response
