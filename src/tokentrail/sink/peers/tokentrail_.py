"""tokentrail's own spans: already the contract, returned as they are (agent, workflow and tool spans are not calls)."""

from __future__ import annotations

from typing import Final

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.sink.peers import _common as common
from tokentrail.sink.peers._common import Attributes, Translated

__all__ = ["SOURCE", "claims", "resembles", "translate"]

SOURCE: Final = "tokentrail"
_SCOPES: Final = frozenset((anthropic_contract.INSTRUMENTATION_SCOPE, semconv.MANUAL_SCOPE))


def claims(name: str, scope: str, attrs: Attributes) -> bool:
    """By scope: tokentrail's instrumentation scopes (the anthropic SDK's, and `tokentrail.llm_call`'s)."""
    return scope in _SCOPES


def resembles(attrs: Attributes) -> bool:
    """No shape test: a span of ours without our scope is judged as a plain GenAI span."""
    return False


def translate(name: str, attrs: Attributes) -> Translated | None:
    """The span in the contract, or `None` for a span that is not a call of its own."""
    if common.operation(attrs, None) in common.NOT_CALL_OPERATIONS:
        return None
    return dict(attrs)
