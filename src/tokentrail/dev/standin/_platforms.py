"""Bedrock and Vertex adaptations: model names from their paths, their error shapes, Bedrock's metrics and frames."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from tokentrail.dev.standin._eventstream import chunk_message, exception_message
from tokentrail.dev.standin._recording import Flavour
from tokentrail.dev.standin._scripts import StreamError

__all__ = [
    "FOUNDRY_PREFIX",
    "bedrock_error_type",
    "bedrock_frames",
    "bedrock_model",
    "bedrock_usage_headers",
    "flavour_of",
    "vertex_model",
    "vertex_rate_limit_body",
]

_BEDROCK_MODEL = re.compile(
    r"^(?:(?:us|eu|apac|global|us-gov|jp|au)\.)?(?:anthropic\.)?(?P<name>.+?)(?:-v\d+(?::\d+)?)?$"
)
_BEDROCK_ERRORS = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
    529: "ServiceUnavailableException",
}


FOUNDRY_PREFIX = "/anthropic"
"""Foundry serves the first-party API under `https://{resource}.services.ai.azure.com/anthropic/`."""


def flavour_of(path: str) -> Flavour:
    """The API a request path belongs to."""
    if path.startswith(FOUNDRY_PREFIX + "/"):
        return "foundry"
    if path.startswith("/model/"):
        return "bedrock"
    if "/publishers/anthropic/" in path:
        return "vertex"
    return "anthropic"


def bedrock_model(quoted_model_id: str) -> str:
    """The Anthropic model name in a Bedrock model id, inference profile or ARN (its slashes quoted in the path)."""
    model_id = urllib.parse.unquote(quoted_model_id)
    model = _BEDROCK_MODEL.match(model_id.rpartition("/")[2])
    return model["name"] if model else model_id


def vertex_model(quoted_model: str) -> str:
    """`claude-x@20250101` in a Vertex path is the model `claude-x-20250101`."""
    return urllib.parse.unquote(quoted_model).replace("@", "-")


def bedrock_error_type(status: int) -> str:
    """The `x-amzn-errortype` header for an HTTP error status."""
    exception = _BEDROCK_ERRORS.get(status, "InternalServerException")
    return f"{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"


def vertex_rate_limit_body(text: str) -> dict[str, Any]:
    """Vertex answers 429 with a Google API error, not the Anthropic envelope."""
    return {"error": {"code": 429, "message": text, "status": "RESOURCE_EXHAUSTED"}}


def bedrock_usage_headers(extra: dict[str, str], usage: Mapping[str, Any], elapsed_ms: int) -> None:
    """Add the token counts and latency headers Bedrock sends with a non-streamed reply (unless scripted)."""
    extra.setdefault("x-amzn-bedrock-input-token-count", str(usage["input_tokens"]))
    extra.setdefault("x-amzn-bedrock-output-token-count", str(usage["output_tokens"]))
    extra.setdefault("x-amzn-bedrock-invocation-latency", str(elapsed_ms))


def bedrock_frames(
    events: list[tuple[str, dict[str, Any]]],
    usage: Mapping[str, Any],
    elapsed_ms: Callable[[], int],
    error: StreamError | None,
) -> list[bytes]:
    """The stream as event-stream chunk frames: invocation metrics in `message_stop`, an exception frame last
    for a stream error. `elapsed_ms()` gives the latency so far."""
    if events and events[-1][0] == "message_stop":
        metrics = {
            "inputTokenCount": usage["input_tokens"],
            "outputTokenCount": usage["output_tokens"],
            "invocationLatency": elapsed_ms(),
            "firstByteLatency": elapsed_ms(),
        }
        events[-1] = ("message_stop", {**events[-1][1], "amazon-bedrock-invocationMetrics": metrics})
    frames = [chunk_message(data) for _, data in events]
    if error is not None:
        frames.append(exception_message(error.error_type, error.text))
    return frames
