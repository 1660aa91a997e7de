"""What an adapter tells the recorder about a call: `Request` at the start, `Response` at the end, both in
provider-neutral form (the adapter maps its provider's shapes onto the span contract), and the `Accumulator`
protocol that builds a `Response` from a stream's items."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry.util.types import AttributeValue

from tokentrail.pricing import Usage

__all__ = ["Accumulator", "Request", "Response"]


@dataclass(slots=True)
class Request:
    """What is known about a call when it starts."""

    operation: str
    """`gen_ai.operation.name` (`semconv.OP_*`)."""
    model: str | None
    attributes: dict[str, AttributeValue]
    """Request-side span attributes (operation, provider, model, server, params); owned by the call from now on."""
    provider: str
    """`gen_ai.provider.name`: the metrics' provider attribute and the price book's provider."""
    stream: bool = False
    params: Mapping[str, Any] | None = None
    """The request's content (`system`, `messages`, `tools`) for the content policy; `None` when there is none."""
    billable: bool = True
    """False for calls that consume no tokens (token counting): no token metrics and no cost."""
    batch: bool = False
    """Price with the batch discount."""
    server_address: str | None = None
    server_port: int | None = None
    signed: bool = False
    """The client signs or authorises each request after building it (cloud platform clients): trace headers
    must be added after that step (the adapter's concern; the recorder only carries the flag)."""


@dataclass(slots=True)
class Response:
    """What is known about a call's result, already in the span contract's terms."""

    id: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    """The semconv finish reason (mapped by the adapter); a call cut short records `error` instead."""
    attributes: dict[str, AttributeValue] | None = None
    """Response-side span attributes the adapter computed (token counts under the contract's names, provider
    attributes); owned by the call from now on. `gen_ai.usage.input_tokens` / `.output_tokens` here also feed
    the token metric."""
    usage: Usage | None = None
    """The token counts to price; `None` when the response says nothing about tokens."""
    usage_by_model: dict[str, Usage] | None = None
    """Usage per model for calls that span several models (batch results); priced model by model."""
    message: Any = None
    """The final message (SDK object or plain dict) for the content policy's output messages."""


class Accumulator(Protocol):
    """Builds a `Response` from the items of a stream (events, batch results): the adapter's stream hooks."""

    @property
    def complete(self) -> bool:
        """True once the stream's end event arrived (a stream closed before that was cut short)."""
        ...

    def add(self, item: Any) -> bool:
        """Account for one item; True when it is a content chunk (time to first chunk)."""
        ...

    def finish(self) -> None:
        """The stream was read to its end (an accumulator without an end event becomes complete here)."""
        ...

    def response(self) -> Response:
        """What the items so far say."""
        ...
