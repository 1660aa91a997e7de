"""The records pricing takes and gives: a call's token `Usage` and its `Cost`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

__all__ = ["Cost", "Usage", "new_cost", "new_usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call, in Anthropic's terms (each count is separate; nothing is included twice)."""

    input_tokens: int = 0
    """UNCACHED input tokens (Anthropic `usage.input_tokens`)."""
    output_tokens: int = 0
    """Output tokens, thinking included (billed as output)."""
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    """5-minute cache writes. When only a total `cache_creation_input_tokens` is known, it goes here."""
    cache_write_1h_tokens: int = 0
    web_search_requests: int = 0
    """Server-side web searches (`usage.server_tool_use.web_search_requests`), priced per request."""
    fast: bool = False
    """Served in fast mode (`usage.speed == "fast"`): priced at the data's fast-mode prices where it has them."""

    @property
    def total_input_tokens(self) -> int:
        """All input: uncached + cache read + cache writes (the semconv `gen_ai.usage.input_tokens`)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_5m_tokens + self.cache_write_1h_tokens


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float
    source: str
    """`genai-prices <version>` or `override:<path to the file>`."""


# --- the hot path's constructors --------------------------------------------------------------------------------
# A frozen dataclass's `__init__` sets each field through `object.__setattr__`, a call per field. The hot path's
# constructors fill an instance of a plain twin class instead (the same slots, so the same layout: its stores are
# the interpreter's specialised slot stores) and then give it the frozen class (`__class__` assignment, which
# Python allows between classes of one layout). Same objects: equal, same hash, still frozen. Where the twin
# cannot become the frozen class (checked once, at import), the slots are set through their descriptors. Every
# priced call makes one `Usage` and one `Cost`.

_new = object.__new__


class _UsageFields:
    """`Usage`'s slots, assignable (a field added to `Usage` and not here makes `_twins_work` false)."""

    __slots__ = (
        "cache_read_tokens",
        "cache_write_1h_tokens",
        "cache_write_5m_tokens",
        "fast",
        "input_tokens",
        "output_tokens",
        "web_search_requests",
    )
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    web_search_requests: int
    fast: bool


class _CostFields:
    """`Cost`'s slots, assignable."""

    __slots__ = ("source", "usd")
    usd: float
    source: str


def _twin_usage(counts: tuple[int, int, int, int, int, int, bool]) -> Usage:
    usage = _new(_UsageFields)
    (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_5m_tokens,
        usage.cache_write_1h_tokens,
        usage.web_search_requests,
        usage.fast,
    ) = counts
    usage.__class__ = Usage  # type: ignore[assignment]
    return usage  # type: ignore[return-value]


def _twin_cost(usd: float, source: str) -> Cost:
    cost = _new(_CostFields)
    cost.usd = usd
    cost.source = source
    cost.__class__ = Cost  # type: ignore[assignment]
    return cost  # type: ignore[return-value]


_usage_setters = tuple(Usage.__dict__[field.name].__set__ for field in fields(Usage))
_cost_setters = tuple(Cost.__dict__[field.name].__set__ for field in fields(Cost))


def _set_usage(counts: tuple[int, int, int, int, int, int, bool]) -> Usage:
    usage: Usage = _new(Usage)
    for setter, value in zip(_usage_setters, counts, strict=True):
        setter(usage, value)
    return usage


def _set_cost(usd: float, source: str) -> Cost:
    cost: Cost = _new(Cost)
    for setter, value in zip(_cost_setters, (usd, source), strict=True):
        setter(cost, value)
    return cost


def _twins_work() -> bool:
    try:
        probe = (1, 2, 3, 4, 5, 6, True)
        return _twin_usage(probe) == Usage(*probe) and _twin_cost(0.5, "probe") == Cost(0.5, "probe")
    except TypeError:  # "object layout differs": an interpreter that lays the two classes out apart
        return False


new_usage: Callable[[tuple[int, int, int, int, int, int, bool]], Usage]
"""`Usage(*counts)`: every field, in order (the hot path's constructor)."""
new_cost: Callable[[float, str], Cost]
"""`Cost(usd, source)` (the hot path's constructor)."""
new_usage, new_cost = (_twin_usage, _twin_cost) if _twins_work() else (_set_usage, _set_cost)
