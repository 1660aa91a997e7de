"""Reading objects by shape: an SDK's pydantic model, its dict form, or any attribute object.

Both sides read Anthropic shapes: the instrumentor the SDK's objects, the sink the same objects as decoded JSON.
Exact type checks come first: ABC checks are slow on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

__all__ = ["field", "fields", "reader"]

_MISSING: Any = object()


def field(obj: Any, name: str) -> Any:
    """`obj.name` or `obj[name]`, `None` when absent."""
    if obj is None:
        return None
    if type(obj) is dict:
        return obj.get(name)
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        return obj.get(name) if isinstance(obj, Mapping) else None
    return value


def fields(obj: Any) -> dict[str, Any] | None:
    """The fields of a plain dict or of a pydantic model (its instance `__dict__`); `None` for other shapes and for
    models with extra fields (an older SDK's model receiving a newer API's fields keeps them apart)."""
    cls = type(obj)
    if cls is dict:
        return obj  # type: ignore[no-any-return]
    kind = _MODEL_KINDS.get(cls)
    if kind is None:
        kind = _model_kind(cls)
    if kind is _NOT_A_MODEL:
        return None
    stored = getattr(obj, "__dict__", None)
    if type(stored) is not dict or (kind is _V2 and getattr(obj, "__pydantic_extra__", None)):
        return None
    return stored


_NOT_A_MODEL, _V1, _V2 = 0, 1, 2
"""What a class is to `reader` and `fields`: not a pydantic model, a pydantic 1 model (extras, when allowed, sit
in `__dict__` with the fields), a pydantic 2 model (extras in `__pydantic_extra__`)."""
_MODEL_KINDS: dict[type, int] = {}
_MAX_MODEL_TYPES = 1024


def _model_kind(cls: type) -> int:
    """Whether and which pydantic model class `cls` is, memoised per class (`model_fields` is a slow class
    property)."""
    kind = _NOT_A_MODEL
    if hasattr(cls, "model_fields"):
        kind = _V2 if hasattr(cls, "__pydantic_extra__") else _V1
    if len(_MODEL_KINDS) < _MAX_MODEL_TYPES:
        _MODEL_KINDS[cls] = kind
    return kind


def reader(obj: Any) -> Callable[[str], Any]:
    """`get(name)` for `obj`: its fields' `dict.get` when `fields` can read them (SDK models, dicts: no function
    call per field), else `field` (other mappings, attribute objects, extras)."""
    # `fields`, inlined for the shapes of the hot path: a dict, and a pydantic 2 model without extras
    cls = type(obj)
    if cls is dict:
        return obj.get  # type: ignore[no-any-return]
    if _MODEL_KINDS.get(cls) is _V2:
        try:
            if not obj.__pydantic_extra__:
                return obj.__dict__.get  # type: ignore[no-any-return]
        except AttributeError:  # an instance pydantic never initialised: `fields` decides
            pass
    stored = fields(obj)
    return partial(field, obj) if stored is None else stored.get
