"""Model names as priced: Bedrock and Vertex ids to the plain Anthropic name, provider names to price-list ids.

Dated names (`claude-sonnet-4-5-20250929`) resolve by prefix in the data; Bedrock ids (`anthropic.claude-...-v1:0`,
`us.anthropic.claude-...`) and Vertex ids (`claude-sonnet-4-5@20250929`) are looked up in the Bedrock / Vertex
price lists first (Bedrock regional endpoints cost more) and then as the plain Anthropic model.
"""

from __future__ import annotations

import re

__all__ = ["PROVIDER_ALIASES", "canonical_model_name", "platform_of"]

_BEDROCK_ID = re.compile(r"^(?:(?P<region>[a-z]{2,}(?:-[a-z]+)?)\.)?anthropic\.(?P<model>.+?)(?:-v\d+(?::\d+)?)?$")
_VERTEX_ID = re.compile(r"^(?P<model>claude-[^@]+)@(?P<version>[\w.-]+)$")
_VERTEX_DATE = re.compile(r"^\d{8}$")

PROVIDER_ALIASES = {
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "aws": "aws",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "vertex": "google",
    "vertex_ai": "google",
    "google": "google",
}
"""Provider names (semconv `gen_ai.provider.name` and common spellings) -> genai-prices provider ids."""


def canonical_model_name(model: str) -> str:
    """The plain Anthropic model name behind a Bedrock or Vertex model id (lowercased).

    `us.anthropic.claude-sonnet-4-5-20250929-v1:0` -> `claude-sonnet-4-5-20250929`;
    `claude-sonnet-4-5@20250929` -> `claude-sonnet-4-5-20250929`; other names are returned lowercased.
    """
    name = model.strip().lower().rsplit("/", 1)[-1]  # Bedrock inference-profile ARNs end with the model id
    if match := _BEDROCK_ID.match(name):
        return match["model"]
    if match := _VERTEX_ID.match(name):
        version = match["version"]
        return f"{match['model']}-{version}" if _VERTEX_DATE.match(version) else match["model"]
    return name


def platform_of(model: str) -> str | None:
    """`aws` for a Bedrock model id, `google` for a Vertex one, else None."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    if _BEDROCK_ID.match(name):
        return "aws"
    if _VERTEX_ID.match(name):
        return "google"
    return None
