"""The GenAI client metrics of one recorder: instruments, reused attribute sets, and one queued point per call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.instrumentation.recorder.metricpump import MetricPump

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from tokentrail.instrumentation.recorder.records import Request

__all__ = ["AttributeSets", "Instruments", "Point"]

MetricAttributes = dict[str, AttributeValue]
AttributeSets = tuple[MetricAttributes, MetricAttributes, MetricAttributes]
"""(operation attributes, input-token attributes, output-token attributes)."""
_MAX_ATTRIBUTE_SETS = 1024

Point = tuple[AttributeSets, float, "float | None", "int | None", "int | None", "float | None"]
"""One call's metric values: (attribute sets, duration s, time to first chunk s, input tokens, output tokens, USD)."""


class Instruments:
    """The metric instruments of one recorder (created once per instrumentor) and its attribute sets.

    Metric attribute sets repeat (a few models and endpoints), so each is built once and reused; the SDK
    copies the attributes it keeps, and nothing here mutates a set after it is built. A call's values are
    queued as one `Point` and recorded off the caller's thread by a `MetricPump`.
    """

    __slots__ = ("_attribute_sets", "cost", "duration", "pump", "time_to_first_chunk", "token_usage")

    def __init__(self, meter: Meter) -> None:
        self._attribute_sets: dict[tuple[str | int | None, ...], AttributeSets] = {}
        self.token_usage = meter.create_histogram(
            semconv.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=semconv.TOKEN_USAGE_BUCKETS,
        )
        self.duration = meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=semconv.DURATION_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            semconv.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=semconv.TIME_TO_FIRST_CHUNK_BUCKETS,
        )
        self.cost = meter.create_counter(
            semconv.METRIC_COST,
            unit="USD",
            description="Cost of GenAI calls in US dollars",
        )
        self.pump = MetricPump(meter, self.record)

    def attributes(self, request: Request, response_model: str | None, error_type: str | None) -> AttributeSets:
        """The attribute sets of a call (built once per distinct combination)."""
        key = (
            request.operation,
            request.provider,
            request.model,
            response_model,
            request.server_address,
            request.server_port,
            error_type,
        )
        found = self._attribute_sets.get(key)
        if found is not None:
            return found
        attrs: MetricAttributes = {
            semconv.GEN_AI_OPERATION_NAME: request.operation,
            semconv.GEN_AI_PROVIDER_NAME: request.provider,
        }
        if request.model:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = request.model
        if response_model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = response_model
        if request.server_address:
            attrs[semconv.SERVER_ADDRESS] = request.server_address
            if request.server_port is not None:
                attrs[semconv.SERVER_PORT] = request.server_port
        if error_type is not None:
            attrs[semconv.ERROR_TYPE] = error_type
        found = (
            attrs,
            {**attrs, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT},
            {**attrs, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_OUTPUT},
        )
        if len(self._attribute_sets) >= _MAX_ATTRIBUTE_SETS:
            self._attribute_sets.clear()
        self._attribute_sets[key] = found
        return found

    def record(self, point: Point) -> None:
        """Record one call's values (on the pump's thread, or at collection)."""
        (attrs, input_attrs, output_attrs), duration, first_chunk, input_tokens, output_tokens, usd = point
        self.duration.record(duration, attrs)
        if first_chunk is not None:
            self.time_to_first_chunk.record(first_chunk, attrs)
        if input_tokens is not None:
            self.token_usage.record(input_tokens, input_attrs)
        if output_tokens is not None:
            self.token_usage.record(output_tokens, output_attrs)
        if usd is not None:
            self.cost.add(usd, attrs)
