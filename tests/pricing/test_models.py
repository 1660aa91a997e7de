"""Model-name canonicalisation: Bedrock and Vertex ids to the plain Anthropic name."""

from __future__ import annotations

import pytest

from tokentrail.pricing import canonical_model_name


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"),
        ("global.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1-20250805"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5-20251001",
        ),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2-20241022"),
        ("Claude-Haiku-4-5", "claude-haiku-4-5"),
    ],
)
def test_canonical_model_name(given: str, canonical: str) -> None:
    assert canonical_model_name(given) == canonical
