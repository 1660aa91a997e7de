"""Pure functions from Anthropic SDK shapes to the recorder's records.

Everything here reads SDK objects by shape (attribute names of the pydantic models, or the keys of plain
dicts), so it works on every SDK generation without importing the SDK. Request parameters are taken only when
they have the right type, which also drops the SDK's `NOT_GIVEN`/`Omit` placeholders.

Time to first chunk: the first `content_block_start` or `content_block_delta` event of a stream, i.e. the
first event that carries generated content, relative to the start of the call (`message_start` and `ping`
arrive before the model produced anything).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.recorder.recording import Request, Response
from tokentrail.pricing import Usage

__all__ = [
    "BatchResultsAccumulator",
    "MessageAccumulator",
    "batch_request",
    "batch_response",
    "chat_request",
    "count_tokens_request",
    "count_tokens_response",
    "error_type",
    "message_response",
    "platform_of",
    "server_of",
    "signs_requests",
]

log = logging.getLogger(__name__)

_PROVIDER = anthropic_contract.PROVIDER

# --- the client: endpoint and platform ------------------------------------------------------------------

_PLATFORMS: dict[type, str] = {}
_ServerInfo = tuple[str | None, int | None]
_servers: dict[str, _ServerInfo] = {}
_MAX_SERVERS = 256


def platform_of(client: Any) -> str:
    """`anthropic`, `bedrock`, `vertex` (or `foundry`) from the client's class (and its bases), memoised per class."""
    cls = type(client)
    platform = _PLATFORMS.get(cls)
    if platform is None:
        names = " ".join(base.__name__ for base in cls.__mro__).lower()
        if "bedrock" in names or "aws" in names:
            platform = "bedrock"
        elif "vertex" in names or "googlecloud" in names:
            platform = "vertex"
        elif "foundry" in names:
            platform = "foundry"
        else:
            platform = "anthropic"
        _PLATFORMS[cls] = platform
    return platform


def server_of(client: Any) -> _ServerInfo:
    """(`server.address`, `server.port`) of the client's base URL; the port defaults from the scheme."""
    url = getattr(client, "base_url", None)
    if url is None:
        return None, None
    key = str(url)
    found = _servers.get(key)
    if found is not None:
        return found
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None)
    if port is None:
        scheme = getattr(url, "scheme", "https")
        port = 443 if scheme == "https" else 80 if scheme == "http" else None
    found = (host, port)
    if len(_servers) >= _MAX_SERVERS:
        _servers.clear()
    _servers[key] = found
    return found


_SIGNS: dict[type, bool] = {}
_BASE_CLIENT_MODULE = "anthropic._base_client"


def signs_requests(client: Any) -> bool:
    """True when the client's class changes each request after the SDK built it (`_prepare_request`: AWS
    signatures, Google credentials): then trace headers may only be added after that step. Memoised per class."""
    cls = type(client)
    signs = _SIGNS.get(cls)
    if signs is None:
        owner = next((base for base in cls.__mro__ if "_prepare_request" in vars(base)), None)
        signs = owner is not None and owner.__module__ != _BASE_CLIENT_MODULE
        _SIGNS[cls] = signs
    return signs


_Base = tuple[dict[str, AttributeValue], str | None, int | None, bool]


def _base_attributes(operation: str, instance: Any) -> _Base:
    """(request attributes every operation has, server address, server port, whether the client signs requests)."""
    client = getattr(instance, "_client", None)
    attributes: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: _PROVIDER,
    }
    if client is None:
        return attributes, None, None, False
    address, port = server_of(client)
    if address:
        attributes[semconv.SERVER_ADDRESS] = address
        if port is not None:
            attributes[semconv.SERVER_PORT] = port
    attributes[anthropic_contract.CLIENT_PLATFORM] = platform_of(client)
    return attributes, address, port, signs_requests(client)


# --- requests ---------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float or kind is int:
        return float(value)
    return None


_EMPTY: Mapping[str, Any] = {}
_SAMPLING = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K),
)


def chat_request(instance: Any, kwargs: Mapping[str, Any], *, stream: bool) -> Request:
    """A `messages.create` / `stream` / `parse` call from its keyword arguments."""
    attributes, address, port, signed = _base_attributes(semconv.OP_CHAT, instance)
    model = kwargs.get("model")
    if type(model) is not str:
        model = None
    else:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    value = kwargs.get("max_tokens")
    if type(value) is int:
        attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] = value
    # Sampling parameters: keyword arguments on 0.x SDKs, `extra_body` on SDKs that dropped them (1.x+).
    extra = kwargs.get("extra_body")
    sampling = extra if type(extra) is dict else _EMPTY
    for name, attribute in _SAMPLING:
        value = _number(kwargs.get(name, sampling.get(name)))
        if value is not None:
            attributes[attribute] = value
    stops = kwargs.get("stop_sequences")
    if isinstance(stops, (list, tuple)) and stops and all(type(s) is str for s in stops):
        attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(stops)
    thinking = kwargs.get("thinking")
    if type(thinking) is dict:
        budget = thinking.get("budget_tokens")
        if type(budget) is int:
            attributes[anthropic_contract.THINKING_BUDGET] = budget
    if stream:
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
    output_config = kwargs.get("output_config")
    if _given_format(kwargs.get("output_format")) or (
        type(output_config) is dict and _given_format(output_config.get("format"))
    ):
        attributes[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    return Request(
        semconv.OP_CHAT,
        model,
        attributes,
        stream=stream,
        params=kwargs,
        server_address=address,
        server_port=port,
        signed=signed,
    )


def _given_format(value: Any) -> bool:
    """True for a real structured-output format (a dict or a type), False for placeholders and `None`."""
    return value is not None and (type(value) is dict or isinstance(value, type))


def count_tokens_request(instance: Any, kwargs: Mapping[str, Any]) -> Request:
    attributes, address, port, signed = _base_attributes(semconv.OP_COUNT_TOKENS, instance)
    model = kwargs.get("model")
    if type(model) is not str:
        model = None
    else:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    return Request(
        semconv.OP_COUNT_TOKENS,
        model,
        attributes,
        billable=False,
        server_address=address,
        server_port=port,
        signed=signed,
    )


def batch_request(operation: str, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Request:
    """`batches.create` (request count, the model when all requests share one), `retrieve` and `results` (id)."""
    attributes, address, port, signed = _base_attributes(operation, instance)
    model: str | None = None
    if operation == semconv.OP_BATCH_CREATE:
        requests = kwargs.get("requests")
        if isinstance(requests, (list, tuple)):
            attributes[anthropic_contract.BATCH_REQUEST_COUNT] = len(requests)
            models = {_get(_get(item, "params"), "model") for item in requests}
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
        billable=operation == semconv.OP_BATCH_RESULTS,
        batch=True,
        server_address=address,
        server_port=port,
        signed=signed,
    )


# --- responses --------------------------------------------------------------------------------------------


_MISSING: Any = object()


def _get(obj: Any, name: str) -> Any:
    """`obj.name` or `obj[name]`, `None` when absent (exact type checks first: ABC checks are slow)."""
    if obj is None:
        return None
    if type(obj) is dict:
        return obj.get(name)
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        return obj.get(name) if isinstance(obj, Mapping) else None
    return value


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def _apply_usage(response: Response, usage: Any) -> None:
    """Fill the token fields of `response` from an Anthropic `usage` object (cumulative values replace)."""
    if usage is None:
        return
    get = _reader(usage)
    value = get("input_tokens")
    if type(value) is int:
        response.input_tokens = value
    value = get("output_tokens")
    if type(value) is int:
        response.output_tokens = value
    value = get("cache_read_input_tokens")
    if type(value) is int:
        response.cache_read_tokens = value
    total = _int(get("cache_creation_input_tokens"))
    breakdown = get("cache_creation")
    if breakdown is not None:
        read = _reader(breakdown)
        w5 = _int(read("ephemeral_5m_input_tokens"))
        w1 = _int(read("ephemeral_1h_input_tokens"))
    else:
        w5 = w1 = None
    if w5 is not None or w1 is not None:
        response.cache_write_5m_tokens = w5 or 0
        response.cache_write_1h_tokens = w1 or 0
        if total is not None and total > (w5 or 0) + (w1 or 0):
            # a total without a full breakdown: the rest is priced as the default 5-minute write
            response.cache_write_5m_tokens = total - (w1 or 0)
    elif total is not None:
        response.cache_write_5m_tokens = total
    details = get("output_tokens_details")
    if details is not None:
        read = _reader(details)
        value = _int(read("thinking_tokens"))
        if value is None:
            value = _int(read("reasoning_tokens"))
        if value is not None:
            response.reasoning_tokens = value
    tier = get("service_tier")
    if type(tier) is str:
        response.service_tier = tier


def message_response(message: Any) -> Response | None:
    """A final `Message` (or `ParsedMessage`, or its dict form); `None` when `message` has no message shape."""
    get = _reader(message)
    usage = get("usage")
    message_id = get("id")
    if usage is None and message_id is None:
        return None
    model = get("model")
    stop_reason = get("stop_reason")
    response = Response(
        id=message_id if type(message_id) is str else None,
        model=model if type(model) is str else None,
        stop_reason=stop_reason if type(stop_reason) is str else None,
        message=message,
    )
    _apply_usage(response, usage)
    request_id = _request_id(message)
    if type(request_id) is str:
        response.attributes = {anthropic_contract.REQUEST_ID: request_id}
    return response


def _fields(obj: Any) -> dict[str, Any] | None:
    """The fields of a plain dict or of a pydantic model (its instance `__dict__`); `None` for other shapes and for
    models with extra fields (an older SDK's model receiving a newer API's fields keeps them apart)."""
    if type(obj) is dict:
        return obj
    fields = getattr(obj, "__dict__", None)
    if type(fields) is not dict or not hasattr(type(obj), "model_fields"):
        return None
    return None if getattr(obj, "__pydantic_extra__", None) else fields


def _reader(obj: Any) -> Callable[[str], Any]:
    """`get(name)` for `obj`: its fields' `dict.get` when `_fields` can read them (SDK models, dicts: no function
    call per field), else `_get` (other mappings, attribute objects, extras)."""
    fields = _fields(obj)
    if fields is not None:
        return fields.get
    return partial(_get, obj)


def _request_id(message: Any) -> Any:
    """The SDK's `_request_id` of a response object, read from the instance's stores: a miss through `getattr`
    goes through pydantic's `__getattr__` and a caught AttributeError, which costs more than all the rest."""
    stored = getattr(message, "__dict__", None)
    if type(stored) is dict and "_request_id" in stored:
        return stored["_request_id"]
    private = getattr(message, "__pydantic_private__", None)
    return private.get("_request_id") if type(private) is dict else None


def count_tokens_response(result: Any) -> Response | None:
    tokens = _int(_get(result, "input_tokens"))
    if tokens is None:
        return None
    return Response(input_tokens=tokens)


def batch_response(batch: Any) -> Response | None:
    """A `MessageBatch`: its id."""
    batch_id = _str(_get(batch, "id"))
    if batch_id is None:
        return None
    return Response(id=batch_id, attributes={anthropic_contract.BATCH_ID: batch_id})


def error_type(exc: BaseException) -> str:
    """`error.type`: the API error envelope's type (`rate_limit_error`, `overloaded_error`, ...) when the
    exception carries one (`APIStatusError.body`, stream `error` events), else the qualified class name."""
    body = getattr(exc, "body", None)
    envelope = _get(body, "error")
    kind = _str(_get(envelope, "type"))
    if kind is None:
        kind = _str(_get(body, "type"))
        if kind == "error":
            kind = None
    if kind:
        return kind
    cls = type(exc)
    module = cls.__module__
    if module.startswith("anthropic."):
        module = "anthropic"  # the public name, not the private module
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def error_description(exc: BaseException) -> str:
    """The span status description: the API error envelope's message with the HTTP status when the exception
    carries an envelope (`Overloaded (HTTP 529)`), else `str(exc)`. The SDK's own text repeats the whole body."""
    body = getattr(exc, "body", None)
    message = _str(_get(_get(body, "error"), "message")) or _str(_get(body, "message"))
    if not message:
        return str(exc)
    status = getattr(exc, "status_code", None)
    return f"{message} (HTTP {status})" if type(status) is int else message


# --- streams ----------------------------------------------------------------------------------------------

_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}
_BLOCK_FIELDS = {"text": "text", "thinking": "thinking", "redacted_thinking": "data"}


class MessageAccumulator:
    """Builds the final `Response` of a Messages stream from its raw events (shared by `create(stream=True)`
    and the `stream()` helpers).

    Usage: `message_start` gives id, model and input/cache tokens; `message_delta` usage is cumulative and
    replaces (never adds to) earlier values, so the `message_start` output-token placeholder is never counted.
    Content blocks are kept only when `capture` is on (content capture enabled).
    """

    __slots__ = ("_blocks", "_capture", "_response", "complete")

    def __init__(self, *, capture: bool) -> None:
        self._capture = capture
        self._response = Response()
        self._blocks: list[list[Any]] = []  # [type, parts: list[str], extra: dict]
        self.complete = False

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":  # the hot path: most events of a stream
            if self._capture:
                delta = getattr(event, "delta", None)
                name = _DELTA_FIELDS.get(getattr(delta, "type", ""))
                if name is not None:
                    text = getattr(delta, name, None)
                    blocks = self._blocks
                    if type(text) is str and blocks:
                        index = getattr(event, "index", None)
                        block = blocks[index] if type(index) is int and 0 <= index < len(blocks) else blocks[-1]
                        block[1].append(text)
            return True
        if kind == "content_block_start":
            if self._capture:
                self._start_block(event)
            return True
        if kind == "message_start":
            message = getattr(event, "message", None)
            response = self._response
            response.id = _str(_get(message, "id"))
            response.model = _str(_get(message, "model"))
            usage = _get(message, "usage")
            _apply_usage(response, usage)
            response.output_tokens = None  # a placeholder until message_delta's cumulative count
        elif kind == "message_delta":
            delta = getattr(event, "delta", None)
            stop_reason = _str(_get(delta, "stop_reason"))
            if stop_reason is not None:
                self._response.stop_reason = stop_reason
            _apply_usage(self._response, getattr(event, "usage", None))
        elif kind == "message_stop":
            self.complete = True
        return False

    def finish(self) -> None:
        """Read to the end: complete only if `message_stop` arrived (a body that just stops was cut)."""

    def _start_block(self, event: Any) -> None:
        block = getattr(event, "content_block", None)
        kind = _str(_get(block, "type")) or "unknown"
        text_field = _BLOCK_FIELDS.get(kind)
        initial = _get(block, text_field) if text_field else None
        extra: dict[str, Any] = {}
        if kind in ("tool_use", "server_tool_use"):
            extra = {"id": _get(block, "id"), "name": _get(block, "name")}
        self._blocks.append([kind, [initial] if type(initial) is str and initial else [], extra])

    def response(self) -> Response:
        response = self._response
        if self._capture and self._blocks:
            response.message = {
                "role": "assistant",
                "content": [self._block_dict(kind, parts, extra) for kind, parts, extra in self._blocks],
                "stop_reason": response.stop_reason,
            }
        return response

    @staticmethod
    def _block_dict(kind: str, parts: list[str], extra: dict[str, Any]) -> dict[str, Any]:
        text = "".join(parts)
        if kind in ("tool_use", "server_tool_use"):
            try:
                arguments: Any = json.loads(text) if text else {}
            except ValueError:
                arguments = text
            return {"type": kind, **extra, "input": arguments}
        field = _BLOCK_FIELDS.get(kind)
        return {"type": kind, field: text} if field else {"type": kind}


class BatchResultsAccumulator:
    """Sums the usage of a batch's results per model (priced with the batch discount by the recorder)."""

    __slots__ = ("_by_model", "_response", "complete")

    def __init__(self) -> None:
        self._response = Response()
        self._by_model: dict[str, Usage] = {}
        self.complete = False

    def add(self, item: Any) -> bool:
        result = getattr(item, "result", None)
        if _get(result, "type") != "succeeded":
            return False
        message = _get(result, "message")
        part = message_response(message)
        if part is None:
            return False
        total = self._response
        total.input_tokens = (total.input_tokens or 0) + (part.input_tokens or 0)
        total.output_tokens = (total.output_tokens or 0) + (part.output_tokens or 0)
        if part.cache_read_tokens is not None:
            total.cache_read_tokens = (total.cache_read_tokens or 0) + part.cache_read_tokens
        if part.cache_write_5m_tokens is not None:
            total.cache_write_5m_tokens = (total.cache_write_5m_tokens or 0) + part.cache_write_5m_tokens
        if part.cache_write_1h_tokens is not None:
            total.cache_write_1h_tokens = (total.cache_write_1h_tokens or 0) + part.cache_write_1h_tokens
        model = part.model or ""
        before = self._by_model.get(model)
        self._by_model[model] = Usage(
            input_tokens=(part.input_tokens or 0) + (before.input_tokens if before else 0),
            output_tokens=(part.output_tokens or 0) + (before.output_tokens if before else 0),
            cache_read_tokens=(part.cache_read_tokens or 0) + (before.cache_read_tokens if before else 0),
            cache_write_5m_tokens=(part.cache_write_5m_tokens or 0) + (before.cache_write_5m_tokens if before else 0),
            cache_write_1h_tokens=(part.cache_write_1h_tokens or 0) + (before.cache_write_1h_tokens if before else 0),
        )
        return False

    def finish(self) -> None:
        """The results were read to the end."""
        self.complete = True

    def response(self) -> Response:
        response = self._response
        if self._by_model:
            models = [m for m in self._by_model if m]
            if len(models) == 1:
                response.model = models[0]
            response.usage_by_model = dict(self._by_model) if "" not in self._by_model else None
        return response
