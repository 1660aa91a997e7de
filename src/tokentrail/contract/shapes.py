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
    if type(obj) is dict:
        return obj
    stored = getattr(obj, "__dict__", None)
    if type(stored) is not dict or not _is_model(type(obj)):
        return None
    return None if getattr(obj, "__pydantic_extra__", None) else stored


_MODEL_TYPES: dict[type, bool] = {}
_MAX_MODEL_TYPES = 1024


def _is_model(cls: type) -> bool:
    """Whether `cls` is a pydantic model class, memoised per class (`model_fields` is a slow class property)."""
    known = _MODEL_TYPES.get(cls)
    if known is None:
        known = hasattr(cls, "model_fields")
        if len(_MODEL_TYPES) < _MAX_MODEL_TYPES:
            _MODEL_TYPES[cls] = known
    return known


def reader(obj: Any) -> Callable[[str], Any]:
    """`get(name)` for `obj`: its fields' `dict.get` when `fields` can read them (SDK models, dicts: no function
    call per field), else `field` (other mappings, attribute objects, extras)."""
    # `fields`, inlined: the reader of every SDK object on the hot path
    if type(obj) is dict:
        return obj.get
    stored = getattr(obj, "__dict__", None)
    if type(stored) is dict:
        cls = type(obj)
        known = _MODEL_TYPES.get(cls)
        if (known or (known is None and _is_model(cls))) and not getattr(obj, "__pydantic_extra__", None):
            return stored.get
    return partial(field, obj)
