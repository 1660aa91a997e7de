"""The Messages stream's accumulator: the recorder's stream hooks for `create(stream=True)` and `stream()`.

Time to first chunk: the first `content_block_start` or `content_block_delta` event of a stream, i.e. the
first event that carries generated content, relative to the start of the call (`message_start` and `ping`
arrive before the model produced anything).
"""

from __future__ import annotations

import importlib
import json
from typing import Any, NamedTuple

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract.shapes import field
from tokentrail.instrumentation.anthropic.responses import TOOL_CALL_BLOCKS, merge_usage, response_of, tool_calls
from tokentrail.instrumentation.recorder.records import Response

__all__ = ["NO_FAST_PATH", "FastPath", "MessageAccumulator", "fast_path"]

_read_usage = anthropic_contract.read_usage
_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}
_BLOCK_FIELDS = {"text": "text", "thinking": "thinking", "redacted_thinking": "data"}


class FastPath(NamedTuple):
    """The SDK's classes of a content delta event and of a text delta: most events of a stream are exactly these,
    and an identity check of the class replaces reading and comparing their `type` strings (which costs more
    than the rest of the event's accounting). Anything else, subclasses included, takes the general path."""

    delta_events: frozenset[type]
    text_deltas: frozenset[type]


NO_FAST_PATH = FastPath(frozenset(), frozenset())

_FAST_CLASSES = (
    ("anthropic.types", "RawContentBlockDeltaEvent", "TextDelta"),
    ("anthropic.types.beta", "BetaRawContentBlockDeltaEvent", "BetaTextDelta"),
)


def fast_path() -> FastPath:
    """This SDK's classes for the fast path (plain and beta Messages); those it lacks are left out."""
    events: set[type] = set()
    texts: set[type] = set()
    for module_name, event_name, text_name in _FAST_CLASSES:
        try:
            module = importlib.import_module(module_name)
        except Exception:  # an SDK without this module: its events take the general path
            continue
        for name, found in ((event_name, events), (text_name, texts)):
            cls = getattr(module, name, None)
            if isinstance(cls, type):
                found.add(cls)
    return FastPath(frozenset(events), frozenset(texts))


def _delta_text(delta: Any, delta_type: Any) -> Any:
    """The text a delta other than `text_delta` adds (thinking, tool input JSON), or `None`."""
    name = _DELTA_FIELDS.get(delta_type) if type(delta_type) is str else None
    return None if name is None else getattr(delta, name, None)


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


class MessageAccumulator:
    """Builds the final `Response` of a Messages stream from its raw events (shared by `create(stream=True)`
    and the `stream()` helpers).

    Usage: `message_start` gives id, model and input/cache tokens; `message_delta` usage is cumulative and
    replaces (never adds to) earlier values, so the `message_start` output-token placeholder is never counted.
    Content blocks are kept only when `capture` is on (content capture enabled); the tool calls' names and ids
    always (read at each block's start, in the same pass).
    """

    __slots__ = (
        "_blocks",
        "_capture",
        "_delta_events",
        "_id",
        "_model",
        "_stop_reason",
        "_text_deltas",
        "_texts",
        "_tool_ids",
        "_tool_names",
        "_usage",
        "complete",
        "request_id",
    )

    def __init__(self, *, capture: bool, fast: FastPath = NO_FAST_PATH) -> None:
        self._capture = capture
        self._delta_events, self._text_deltas = fast
        self._id: str | None = None
        self._model: str | None = None
        self._stop_reason: str | None = None
        self._usage: anthropic_contract.Usage | None = None
        self._blocks: list[list[Any]] = []  # [type, parts: list[str], extra: dict]
        self._texts: list[list[str]] = []  # each block's parts (the same lists), by block position
        self._tool_names: list[str] | None = None  # tool calls, whatever the content policy
        self._tool_ids: list[str] = []
        self.complete = False
        self.request_id: str | None = None
        """The HTTP response's `request-id` (`anthropic.request.id`), given by the adapter."""

    def add(self, event: Any) -> bool:
        if type(event) in self._delta_events:  # the hottest path: the SDK's own content delta events
            if self._capture:
                try:
                    delta = event.delta
                    text = delta.text if type(delta) in self._text_deltas else None
                    if type(text) is not str:
                        # Another delta (thinking, tool input), or one an older SDK built as its text delta class
                        # because it does not know its type (0.41 does that with `thinking_delta`, text `None`).
                        self._add_delta(event)
                    elif len(self._texts) == 1:  # one block so far: its index can only be 0 (or wrong: the last)
                        self._texts[0].append(text)
                    else:
                        self._keep(text, event.index)
                except AttributeError:  # the SDK builds events without validating them: a field may be missing
                    self._add_delta(event)
            return True
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":  # another class of delta event (a test's, a subclass)
            if self._capture:
                self._add_delta(event)
            return True
        if kind == "content_block_start":
            started = getattr(event, "content_block", None)
            block_type = field(started, "type")
            if block_type in TOOL_CALL_BLOCKS:
                self._tool_call(started)
            if self._capture:
                self._start_block(started, block_type)
            return True
        if kind == "message_start":
            message = getattr(event, "message", None)
            self._id = _str(field(message, "id"))
            self._model = _str(field(message, "model"))
            usage = merge_usage(self._usage, _read_usage(field(message, "usage")))
            # the output count is a placeholder until message_delta's cumulative count
            self._usage = None if usage is None else usage._replace(output_tokens=None)
        elif kind == "message_delta":
            stop_reason = _str(field(getattr(event, "delta", None), "stop_reason"))
            if stop_reason is not None:
                self._stop_reason = stop_reason
            self._usage = merge_usage(self._usage, _read_usage(getattr(event, "usage", None)))
        elif kind == "message_stop":
            self.complete = True
        return False

    def _add_delta(self, event: Any) -> None:
        """A content delta's text, read field by field (none of them required)."""
        delta = getattr(event, "delta", None)
        delta_type = getattr(delta, "type", None)
        text = getattr(delta, "text", None) if delta_type == "text_delta" else _delta_text(delta, delta_type)
        if type(text) is str:
            self._keep(text, getattr(event, "index", None))

    def _keep(self, text: str, index: Any) -> None:
        """Add `text` to the block at `index` (the last block when the index is not one of theirs)."""
        texts = self._texts
        if type(index) is int and 0 <= index < len(texts):
            texts[index].append(text)
        elif texts:
            texts[-1].append(text)

    def finish(self) -> None:
        """Read to the end: complete only if `message_stop` arrived (a body that just stops was cut)."""

    def _tool_call(self, block: Any) -> None:
        names = self._tool_names
        if names is None:
            names = self._tool_names = []
        names.append(_str(field(block, "name")) or "")
        self._tool_ids.append(_str(field(block, "id")) or "")

    def _start_block(self, block: Any, block_type: Any) -> None:
        kind = _str(block_type) or "unknown"
        text_field = _BLOCK_FIELDS.get(kind)
        initial = field(block, text_field) if text_field else None
        extra: dict[str, Any] = {}
        if kind in ("tool_use", "server_tool_use"):
            extra = {"id": field(block, "id"), "name": field(block, "name")}
        parts = [initial] if type(initial) is str and initial else []
        self._blocks.append([kind, parts, extra])
        self._texts.append(parts)

    def response(self) -> Response:
        message = None
        if self._capture and self._blocks:
            message = {
                "role": "assistant",
                "content": [self._block_dict(kind, parts, extra) for kind, parts, extra in self._blocks],
                "stop_reason": self._stop_reason,
            }
        attributes: dict[str, AttributeValue] | None = None
        if self.request_id is not None:
            attributes = {anthropic_contract.REQUEST_ID: self.request_id}
        if self._tool_names:
            if attributes is None:
                attributes = {}
            tool_calls(self._tool_names, self._tool_ids, attributes)
        return response_of(
            self._id, self._model, self._stop_reason, self._usage, message=message, attributes=attributes
        )

    @staticmethod
    def _block_dict(kind: str, parts: list[str], extra: dict[str, Any]) -> dict[str, Any]:
        text = "".join(parts)
        if kind in ("tool_use", "server_tool_use"):
            try:
                arguments: Any = json.loads(text) if text else {}
            except ValueError:
                arguments = text
            return {"type": kind, **extra, "input": arguments}
        name = _BLOCK_FIELDS.get(kind)
        return {"type": kind, name: text} if name else {"type": kind}
