"""The records pricing takes and gives: a call's token `Usage` and its `Cost`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cost", "Usage"]


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
