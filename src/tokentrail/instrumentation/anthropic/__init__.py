"""OpenTelemetry instrumentation of the `anthropic` SDK: exactly one CLIENT span per API call.

```python
from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

AnthropicInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
```

Patches the resource classes (not instances), so every client made before or after `instrument()`, including
the Bedrock, Vertex and Foundry clients, is traced: sync and async `messages.create` / `stream` / `parse` /
`count_tokens`, `messages.batches.create` / `retrieve` / `results`, and their `beta.messages` equivalents. The
SDK's helpers that loop over calls (tool runners, message threads) send each turn through `beta.messages.create`,
so each turn is one span of its own.
Each optional method is wrapped only where the installed SDK has it; skipped targets are logged at debug level.
On SDKs that trace their own calls, tokentrail's span takes the place of the SDK's call span (see `native`).
The SDK's own retries become retry events and an attempt count on the call's span (see `retries`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.instrumentation.anthropic import native, retries
from tokentrail.instrumentation.anthropic.errors import error_description, error_type
from tokentrail.instrumentation.anthropic.wrappers import Adapters, Operation, Wrapper
from tokentrail.instrumentation.recorder.recorder import Recorder, recorder_for
from tokentrail.instrumentation.settings import Settings

__all__ = ["AnthropicInstrumentor"]

log = logging.getLogger(__name__)

_MESSAGES = "anthropic.resources.messages.messages"
_BATCHES = "anthropic.resources.messages.batches"
_BETA_MESSAGES = "anthropic.resources.beta.messages.messages"
_BETA_BATCHES = "anthropic.resources.beta.messages.batches"

_TARGETS: tuple[tuple[str, str, str], ...] = tuple(
    (module, prefix + cls, method)
    for module, cls, methods in (
        (_MESSAGES, "Messages", ("create", "stream", "parse", "count_tokens")),
        (_BETA_MESSAGES, "Messages", ("create", "stream", "parse", "count_tokens")),
        (_BATCHES, "Batches", ("create", "retrieve", "results")),
        (_BETA_BATCHES, "Batches", ("create", "retrieve", "results")),
    )
    for prefix in ("", "Async")
    for method in methods
)
"""(module, class, method) of every call tokentrail records."""


def _settings(given: Any) -> Settings:
    if isinstance(given, Settings):
        return given
    from tokentrail.instrumentation import settings

    return settings.current()


def _recorder(settings: Settings, tracer_provider: Any, meter_provider: Any) -> Recorder:
    return recorder_for(
        anthropic_contract.INSTRUMENTATION_SCOPE,
        settings,
        tracer_provider,
        meter_provider,
        error_type=error_type,
        describe_error=error_description,
    )


class AnthropicInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the `anthropic` SDK (0.41 and later, every generation)."""

    _patched: list[tuple[Any, str]]
    _adapters: Adapters | None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 0.41",)  # 0.40 kept `messages` in a module of another path

    def _instrument(self, **kwargs: Any) -> None:
        """Keyword arguments: `tracer_provider`, `meter_provider` (default: the global ones), `settings`."""
        settings = _settings(kwargs.get("settings"))
        adapters = Adapters(_recorder(settings, kwargs.get("tracer_provider"), kwargs.get("meter_provider")))
        self._adapters = adapters
        self._patched = []
        operations: dict[str, Operation] = {
            "create": adapters.chat,
            "parse": adapters.chat,
            "count_tokens": adapters.count_tokens,
        }
        batch_operations: dict[str, Operation] = {
            "create": adapters.batch_create,
            "retrieve": adapters.batch_retrieve,
            "results": adapters.batch_results,
        }
        for module_name, class_name, method in _TARGETS:
            owner = _resolve(module_name, class_name, method)
            if owner is None:
                continue
            wrapper: Wrapper
            if method == "stream":
                wrapper = adapters.stream_manager
            else:
                operation = (batch_operations if class_name.endswith("Batches") else operations)[method]
                is_async = class_name.startswith("Async")
                wrapper = adapters.async_(operation) if is_async else adapters.sync(operation)
            self._wrap(owner, method, wrapper)
        if not any(getattr(owner, "__module__", None) == _MESSAGES for owner, _ in self._patched):
            _warn_unrecognised()  # no `messages` resource: no chat call would be traced
        self._take_place_of_sdk_spans()
        self._follow_retries()

    def _wrap(self, owner: Any, name: str, wrapper: Wrapper) -> None:
        try:
            wrapt.wrap_function_wrapper(owner, name, wrapper)
        except Exception:
            log.debug("tokentrail: could not wrap %s.%s", owner.__qualname__, name, exc_info=True)
            return
        self._patched.append((owner, name))

    def _take_place_of_sdk_spans(self) -> None:
        try:
            module = importlib.import_module(native.HOOK_MODULE)
        except Exception:
            log.debug("tokentrail: %s not importable; no SDK span to replace", native.HOOK_MODULE, exc_info=True)
            return
        if not callable(getattr(module, native.HOOK_NAME, None)):
            log.debug("tokentrail: this anthropic SDK has no native call spans (%s absent)", native.HOOK_NAME)
            return
        self._wrap(module, native.HOOK_NAME, native.take_place_of_sdk_span)

    def _follow_retries(self) -> None:
        owner = _resolve_class(retries.HOOK_MODULE, retries.HOOK_CLASS)
        if owner is None:
            return
        for method, wrapper in retries.HOOKS:
            if callable(getattr(owner, method, None)):
                self._wrap(owner, method, wrapper)
            else:
                log.debug("tokentrail: this anthropic SDK has no %s.%s; retries less detailed", owner.__name__, method)

    def _uninstrument(self, **kwargs: Any) -> None:
        adapters: Adapters | None = getattr(self, "_adapters", None)
        if adapters is not None:
            adapters.close()
        self._adapters = None
        for owner, name in reversed(getattr(self, "_patched", [])):
            try:
                unwrap(owner, name)
            except Exception:
                log.debug("tokentrail: could not unwrap %r.%s", owner, name, exc_info=True)
        self._patched = []


def _resolve_class(module_name: str, class_name: str) -> Any:
    """The class, or `None` (logged) when this SDK lacks its module or the class."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        log.debug("tokentrail: %s not importable; SDK retries not followed", module_name)
        return None
    owner = getattr(module, class_name, None)
    if not isinstance(owner, type):
        log.debug("tokentrail: %s.%s absent; SDK retries not followed", module_name, class_name)
        return None
    return owner


def _warn_unrecognised() -> None:
    """One warning when the `messages` resource is not where the patch table looks: an SDK layout this
    instrumentor does not know (0.40 and older kept it in `anthropic.resources.messages`, a module)."""
    try:
        version = str(getattr(importlib.import_module("anthropic"), "__version__", "of unknown version"))
    except Exception:
        version = "(not importable)"
    log.warning(
        "tokentrail: anthropic %s is not supported: %s.Messages was not found (an unknown SDK layout), so its"
        " messages calls are not traced; tokentrail supports anthropic >= 0.41",
        version,
        _MESSAGES,
    )


def _resolve(module_name: str, class_name: str, method: str) -> Any:
    """The class that owns `method`, or `None` (logged) when this SDK lacks the module, class or method."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        log.debug("tokentrail: skipping %s.%s.%s: module not in this SDK", module_name, class_name, method)
        return None
    owner = getattr(module, class_name, None)
    if owner is None or not callable(getattr(owner, method, None)):
        log.debug("tokentrail: skipping %s.%s.%s: not in this SDK", module_name, class_name, method)
        return None
    return owner
