"""errors: `error.type` and the status description from the API error envelope."""

from __future__ import annotations

import anthropic
import httpx

from tokentrail.instrumentation.anthropic import errors


def test_error_type():
    request = httpx.Request("POST", "http://x/v1/messages")
    response = httpx.Response(529, request=request)
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = anthropic.APIStatusError("Overloaded", response=response, body=body)
    assert errors.error_type(exc) == "overloaded_error"
    assert errors.error_type(anthropic.APIConnectionError(request=request)) == "anthropic.APIConnectionError"
    assert errors.error_type(ValueError("x")) == "ValueError"
    assert errors.error_type(anthropic.APIStatusError("?", response=response, body="not json")) == (
        "anthropic.APIStatusError"
    )


def test_error_description_is_the_envelope_message_with_the_status():
    request = httpx.Request("POST", "http://x/v1/messages")
    response = httpx.Response(529, request=request)
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = anthropic.APIStatusError("Error code: 529 - {...}", response=response, body=body)
    assert errors.error_description(exc) == "Overloaded (HTTP 529)"
    assert errors.error_description(ValueError("plain")) == "plain"
    assert errors.error_description(anthropic.APIStatusError("raw", response=response, body="not json")) == "raw"
