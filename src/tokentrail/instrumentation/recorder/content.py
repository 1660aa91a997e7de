"""Prompt and completion content on spans: capture policy, byte budget, redaction, JSON encoding.

`ContentPolicy.request_attributes(kwargs)` turns the keyword arguments of `messages.create` into
`gen_ai.system_instructions`, `gen_ai.input.messages` and `gen_ai.tool.definitions`, and
`ContentPolicy.response_attributes(message)` turns the final message into `gen_ai.output.messages`, each a JSON
string following the OpenTelemetry GenAI message schema (`{"role": ..., "parts": [...]}`), converted by
`tokentrail.contract.messages` (the converter the sink shares; binary media becomes a size placeholder there).

Byte budget: each attribute's UTF-8 JSON is at most `max_bytes`. A larger value is cut while staying valid JSON
(the longest strings are trimmed to a common length and marked `…[truncated N bytes]`; if that is not enough the
oldest messages are dropped) and `tokentrail.content.truncated` is set to true.

Redaction: `redact(attribute_name, value)` is called with the structured value (the list of messages / parts /
tool definitions, before JSON); its return value replaces it (`None` drops the attribute). If it raises, that
attribute is dropped. Content handling never raises into the instrumented call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import message_json, messages, semconv
from tokentrail.instrumentation.settings import CaptureMode, Redactor, Settings

__all__ = ["ContentPolicy"]

log = logging.getLogger(__name__)

_MIN_KEEP = 32
"""Strings are never trimmed below this many bytes (ids, roles and types stay intact)."""
_MARKER_BYTES = 32
"""Upper bound of the bytes a truncation marker adds."""


# --- given or not ---------------------------------------------------------------------------------------------


def _is_given(value: Any) -> bool:
    """False for None, empty values and the SDK's NOT_GIVEN / Omit sentinels (which are falsy)."""
    try:
        return bool(value)
    except Exception:  # an object whose truthiness raises is still a value
        return True


# --- JSON and the byte budget -------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    return messages.plain(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default, check_circular=False)
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)


def _encoder() -> Callable[[Any], str]:
    """`_ENCODER.encode`, with the C encoder made once: `JSONEncoder.encode` builds a new one for every value,
    which costs as much as encoding a call's messages. Same output (the arguments are `_ENCODER`'s); without
    the `_json` accelerator, `_ENCODER.encode` itself. No circular-reference check (a shared check would not be
    thread-safe): a circular value ends in RecursionError, which `_record` catches like any encoding failure."""
    if _c_make_encoder is None:
        return _ENCODER.encode
    try:  # a private CPython interface: any surprise falls back to the public one
        make = _c_make_encoder(None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, True)

        def encode(value: Any) -> str:
            return "".join(make(value, 0))

        probe = {"probe": ["é", 1, 2.5, None, True]}
        if encode(probe) != _ENCODER.encode(probe):
            return _ENCODER.encode
    except Exception:
        log.debug("tokentrail: the C JSON encoder is not usable here; using json.JSONEncoder", exc_info=True)
        return _ENCODER.encode
    return encode


_encode = _encoder()


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _cut_utf8(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `limit` bytes."""
    if text.isascii():
        return text[:limit]
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _string_lengths(value: Any, out: list[int]) -> None:
    if isinstance(value, str):
        if len(value) > _MIN_KEEP:
            out.append(_utf8_len(value))
    elif isinstance(value, dict):
        for item in value.values():
            _string_lengths(item, out)
    elif isinstance(value, list):
        for item in value:
            _string_lengths(item, out)


def _trim(value: Any, cap: int) -> Any:
    """A copy of `value` with every string longer than `cap` bytes cut to `cap` bytes and marked."""
    if isinstance(value, str):
        size = _utf8_len(value)
        if size <= cap:
            return value
        kept = _cut_utf8(value, cap)
        return f"{kept}…[truncated {size - _utf8_len(kept)} bytes]"
    if isinstance(value, dict):
        return {key: _trim(item, cap) for key, item in value.items()}
    if isinstance(value, list):
        return [_trim(item, cap) for item in value]
    return value


def _water_level(lengths: list[int], excess: int) -> int:
    """The cap at which cutting every longer string (plus its marker) removes at least `excess` bytes."""
    lengths = sorted(lengths, reverse=True)
    total = 0
    for count, length in enumerate(lengths, start=1):
        total += length
        following = lengths[count] if count < len(lengths) else 0
        removable = total - count * following - count * _MARKER_BYTES
        if removable >= excess:
            return max(_MIN_KEEP, (total - count * _MARKER_BYTES - excess) // count)
    return _MIN_KEEP


def _fit(value: Any, encoded: str, max_bytes: int) -> str:
    """Valid JSON of at most `max_bytes` UTF-8 bytes derived from `value` (whose JSON is `encoded`)."""
    plain = json.loads(encoded)  # a plain copy: redactors may return any JSON-able objects
    size = _utf8_len(encoded)
    for _ in range(6):
        lengths: list[int] = []
        _string_lengths(plain, lengths)
        if not lengths:
            break
        cap = _water_level(lengths, size - max_bytes)
        trimmed = _trim(plain, cap)
        candidate = _encode(trimmed)
        size = _utf8_len(candidate)
        plain = trimmed
        if size <= max_bytes:
            return candidate
        if cap <= _MIN_KEEP:
            break
    # Still too large: the structure itself is big. Drop the oldest list items, keeping the newest.
    if isinstance(plain, list):
        items = list(plain)
        while len(items) > 1:
            items.pop(0)
            candidate = _encode(items)
            if _utf8_len(candidate) <= max_bytes:
                return candidate
        plain = items
    candidate = _encode(plain)
    if _utf8_len(candidate) <= max_bytes:
        return candidate
    return _cut_utf8(candidate, max_bytes)  # last resort: valid UTF-8, no longer valid JSON


# --- the policy ---------------------------------------------------------------------------------------------

_SYSTEM_MEMO_SIZE = 16
_SYSTEM_MEMO_MAX_CHARS = 65536
"""At most 16 system prompts of up to 64 Ki characters are remembered (a few MiB at worst); longer ones are
encoded on every call."""

_REQUEST_FIELDS: tuple[tuple[str, str, Callable[[Any], Any], Callable[[Any], str | None] | None], ...] = (
    ("system", semconv.GEN_AI_SYSTEM_INSTRUCTIONS, messages.system_instructions, message_json.system_instructions_json),
    ("messages", semconv.GEN_AI_INPUT_MESSAGES, messages.input_messages, message_json.input_messages_json),
    ("tools", semconv.GEN_AI_TOOL_DEFINITIONS, messages.tool_definitions, None),
)
"""(parameter, attribute, converter, the JSON fast path of the common shapes or `None`)."""


class ContentPolicy:
    """Whether and how prompt and completion content is recorded on spans."""

    __slots__ = ("_system_memo", "enabled", "max_bytes", "mode", "redact")

    def __init__(self, mode: CaptureMode, max_bytes: int = 65536, redact: Redactor | None = None) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.mode = mode
        self.enabled: bool = mode.on_span
        self.max_bytes = max_bytes
        self.redact = redact
        self._system_memo: dict[str, dict[str, AttributeValue]] = {}
        """A string system prompt's attributes (applications send the same few, often long, again and again)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ContentPolicy:
        return cls(settings.capture_content, settings.content_max_bytes, settings.redact)

    def request_attributes(
        self, params: Mapping[str, Any], into: dict[str, AttributeValue] | None = None
    ) -> dict[str, AttributeValue]:
        """Content attributes from `messages.create` keyword arguments (added to `into` when given, which is
        returned); none when content capture is off."""
        attributes: dict[str, AttributeValue] = {} if into is None else into
        if not self.enabled:
            return attributes
        fast_ok = self.redact is None  # a redactor sees the structured value: no fast path
        for key, name, convert, fast in _REQUEST_FIELDS:
            raw = params.get(key)
            if raw is None:
                continue
            if (
                type(raw) is str
                and raw
                and key == "system"
                and self.redact is None
                and len(raw) <= _SYSTEM_MEMO_MAX_CHARS
            ):
                attributes.update(self._system_attributes(raw))
                continue
            if type(raw) is list:  # the usual `messages` and `tools`: no need for `_is_given`'s guard
                if not raw:
                    continue
            elif not _is_given(raw):
                continue
            if fast is not None and fast_ok and self._record_fast(attributes, name, fast, raw):
                continue
            try:
                value = convert(raw)
            except Exception:
                log.debug("tokentrail: could not read %r for %s", key, name, exc_info=True)
                continue
            self._record(attributes, name, value)
        return attributes

    def _system_attributes(self, system: str) -> dict[str, AttributeValue]:
        """The attributes of a string system prompt, encoded once per distinct prompt (no redactor: a redactor
        may answer differently each time)."""
        memo = self._system_memo
        found = memo.get(system)
        if found is None:
            found = {}
            self._record(found, semconv.GEN_AI_SYSTEM_INSTRUCTIONS, messages.system_instructions(system))
            if len(memo) >= _SYSTEM_MEMO_SIZE:
                memo.clear()
            memo[system] = found
        return found

    def response_attributes(
        self, message: Any, into: dict[str, AttributeValue] | None = None
    ) -> dict[str, AttributeValue]:
        """`gen_ai.output.messages` from a final Message (SDK object or dict), added to `into` when given (which is
        returned); none when capture is off."""
        attributes: dict[str, AttributeValue] = {} if into is None else into
        if not self.enabled or message is None:
            return attributes
        if self.redact is None and self._record_fast(
            attributes, semconv.GEN_AI_OUTPUT_MESSAGES, message_json.output_messages_json, message
        ):
            return attributes
        try:
            value = messages.output_messages(message)
        except Exception:
            log.debug("tokentrail: could not read the response content", exc_info=True)
            return attributes
        self._record(attributes, semconv.GEN_AI_OUTPUT_MESSAGES, value)
        return attributes

    def _record_fast(
        self, attributes: dict[str, AttributeValue], name: str, fast: Callable[[Any], str | None], raw: Any
    ) -> bool:
        """Record `name` from the JSON `fast` writes for `raw`; False (nothing recorded) when `fast` does not take
        that shape, fails, or its JSON is over the budget: the general path then converts, trims and records."""
        try:
            encoded = fast(raw)
            if encoded is None:
                return False
            size = len(encoded) if encoded.isascii() else len(encoded.encode("utf-8"))  # `_utf8_len`, inlined
        except Exception:
            return False
        if size > self.max_bytes:
            return False
        attributes[name] = encoded
        return True

    def _record(self, attributes: dict[str, AttributeValue], name: str, value: Any) -> None:
        if self.redact is not None:
            try:
                value = self.redact(name, value)
            except Exception:
                log.debug("tokentrail: the redaction hook raised for %s; attribute dropped", name, exc_info=True)
                attributes[semconv.CONTENT_REDACTED] = True
                return
            attributes[semconv.CONTENT_REDACTED] = True
            if value is None:
                return
        try:
            encoded = _encode(value)
            if _utf8_len(encoded) > self.max_bytes:
                encoded = _fit(value, encoded, self.max_bytes)
                attributes[semconv.CONTENT_TRUNCATED] = True
        except Exception:
            log.debug("tokentrail: could not serialise %s", name, exc_info=True)
            return
        attributes[name] = encoded
