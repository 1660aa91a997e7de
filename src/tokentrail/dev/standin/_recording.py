"""What the stand-in remembers of each request it received, for tests to inspect."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Flavour", "RecordedRequest"]

Flavour = Literal["anthropic", "bedrock", "vertex", "foundry"]
"""Which API a request spoke: first-party, Bedrock, Vertex or Foundry (told apart by its path)."""


@dataclass(frozen=True)
class RecordedRequest:
    """A request the stand-in received (headers with lower-case names; `json` is the parsed body or None)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    json: Any
    flavour: Flavour
