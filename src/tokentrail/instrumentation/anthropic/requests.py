"""Messages requests (`create` / `stream` / `parse`, `count_tokens`) as the recorder's `Request`.

Parameters are read from the keyword arguments and taken only when they have the right type, which also drops
the SDK's `NOT_GIVEN`/`Omit` placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic.client import base_attributes
from tokentrail.instrumentation.recorder.records import Request

__all__ = ["chat_request", "count_tokens_request"]

_PROVIDER = anthropic_contract.PROVIDER


_EMPTY: Mapping[str, Any] = {}
_MISSING: Any = object()
_SAMPLING = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K),
)


def chat_request(instance: Any, kwargs: Mapping[str, Any], *, stream: bool) -> Request:
    """A `messages.create` / `stream` / `parse` call from its keyword arguments."""
    attributes, address, port, signed = base_attributes(semconv.OP_CHAT, instance)
    model = kwargs.get("model")
    if type(model) is not str:
        model = None
    else:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    value = kwargs.get("max_tokens")
    if type(value) is int:
        attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] = value
    if not _OPTIONAL.isdisjoint(kwargs):  # most calls give none of them: one test instead of one per parameter
        _optional_attributes(kwargs, attributes)
    if stream:
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
    # positional (fields in order: stream, params, billable, batch, server address and port, signed): a dataclass
    # takes them faster than keywords
    return Request(semconv.OP_CHAT, model, attributes, _PROVIDER, stream, kwargs, True, False, address, port, signed)


_OPTIONAL = frozenset(
    (
        "temperature",
        "top_p",
        "top_k",
        "extra_body",
        "stop_sequences",
        "thinking",
        "thread",
        "output_config",
        "output_format",
    )
)
"""The parameters `_optional_attributes` reads."""


def _optional_attributes(kwargs: Mapping[str, Any], attributes: dict[str, AttributeValue]) -> None:
    """The attributes of the parameters a call may give besides the model and `max_tokens` (`_OPTIONAL`)."""
    # Sampling parameters: keyword arguments on 0.x SDKs, `extra_body` on SDKs that dropped them (1.x+).
    extra = kwargs.get("extra_body")
    sampling = extra if type(extra) is dict else _EMPTY
    for name, attribute in _SAMPLING:
        given: Any = kwargs.get(name, _MISSING)
        if given is _MISSING:
            given = sampling.get(name)
        kind = type(given)
        if kind is float or kind is int:
            attributes[attribute] = float(given)
    stops = kwargs.get("stop_sequences")
    if isinstance(stops, (list, tuple)) and stops and all(type(s) is str for s in stops):
        attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(stops)
    thinking = kwargs.get("thinking")
    if type(thinking) is dict:
        budget = thinking.get("budget_tokens")
        if type(budget) is int:
            attributes[anthropic_contract.THINKING_BUDGET] = budget
    thread = kwargs.get("thread")
    if type(thread) is dict:
        _thread_attributes(thread, attributes)
    output_config = kwargs.get("output_config")
    output_format = kwargs.get("output_format")
    if (output_format is not None and _given_format(output_format)) or (
        type(output_config) is dict and _given_format(output_config.get("format"))
    ):
        attributes[semconv.GEN_AI_OUTPUT_TYPE] = "json"


def _thread_attributes(thread: Mapping[str, Any], attributes: dict[str, AttributeValue]) -> None:
    """A message thread's turn (`thread.send` / `stream` / `tool_runner` send `thread` to `create`)."""
    kind = thread.get("type")
    if type(kind) is str:
        attributes[anthropic_contract.THREAD_TYPE] = kind
    previous = thread.get("previous_message_id")
    if type(previous) is str:
        attributes[anthropic_contract.THREAD_PREVIOUS_MESSAGE_ID] = previous


def _given_format(value: Any) -> bool:
    """True for a real structured-output format (a dict or a type), False for placeholders and `None`."""
    return value is not None and (type(value) is dict or isinstance(value, type))


def count_tokens_request(instance: Any, kwargs: Mapping[str, Any]) -> Request:
    """A `messages.count_tokens` call: consumes no tokens (not billable)."""
    attributes, address, port, signed = base_attributes(semconv.OP_COUNT_TOKENS, instance)
    model = kwargs.get("model")
    if type(model) is not str:
        model = None
    else:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    return Request(
        semconv.OP_COUNT_TOKENS,
        model,
        attributes,
        _PROVIDER,
        billable=False,
        server_address=address,
        server_port=port,
        signed=signed,
    )
