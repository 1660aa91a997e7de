"""The span contract: every attribute name, span name rule and metric that tokentrail writes or reads.

This module is the single home of those names. The instrumentor writes them, the sink reads them; neither
imports the other. Names follow the OpenTelemetry GenAI semantic conventions where one exists; the few that
have no convention yet (cost, content truncation, app context) are namespaced and documented in
docs/span-contract.md.
"""

from __future__ import annotations

from typing import Final

# --- identity -------------------------------------------------------------------------------------------
MANUAL_SCOPE: Final = "tokentrail.instrumentation.manual"
"""Instrumentation scope of the calls recorded by hand (`tokentrail.llm_call`), whatever their provider."""

# --- GenAI semantic conventions ---------------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # deprecated predecessor of provider.name; read, never written
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
USER_ID: Final = "user.id"
SESSION_ID: Final = "session.id"

# gen_ai.operation.name values
OP_CHAT: Final = "chat"
OP_COUNT_TOKENS: Final = "count_tokens"  # no semconv value yet: documented as a tokentrail extension
OP_BATCH_CREATE: Final = "batch.create"
OP_BATCH_RETRIEVE: Final = "batch.retrieve"
OP_BATCH_RESULTS: Final = "batch.results"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"

# finish reasons (semconv names; Anthropic stop_reason values are mapped onto these)
FINISH_STOP: Final = "stop"
FINISH_LENGTH: Final = "length"
FINISH_TOOL_CALL: Final = "tool_call"
FINISH_CONTENT_FILTER: Final = "content_filter"
FINISH_ERROR: Final = "error"

# --- tokentrail extensions (no semconv name exists yet) -------------------------------------------------
COST_USD: Final = "gen_ai.usage.cost"
"""Cost of the call in US dollars (float). No semconv attribute exists yet; this is the name OpenLIT uses too."""
COST_SOURCE: Final = "tokentrail.cost.source"
"""Where the price came from: `genai-prices <version>` or `override:<path>`."""
CONTENT_TRUNCATED: Final = "tokentrail.content.truncated"
"""True when a content attribute was cut to fit the byte budget."""
CONTENT_REDACTED: Final = "tokentrail.content.redacted"
TAGS: Final = "tokentrail.tags"
PROMPT_NAME: Final = "tokentrail.prompt.name"
PROMPT_VERSION: Final = "tokentrail.prompt.version"
APP_ATTRIBUTE_PREFIX: Final = "tokentrail.app."
"""`tokentrail.attributes(**other_ids)` keys land under this prefix, e.g. `tokentrail.app.tenant_id`."""
WORKFLOW_NAME: Final = "gen_ai.workflow.name"
STREAM_EVENTS: Final = "tokentrail.stream.events"
CALL_TYPE: Final = "tokentrail.call_type"
"""The application's own kind of call (`rag_query`, `summarization`, ...): `tokentrail.attributes(call_type=...)`."""
TOOL_CALL_NAMES: Final = "tokentrail.tool_calls.names"
"""The names of the tools the response asked to call, in response order (string array; recorded whatever the
content policy: names are not content)."""
TOOL_CALL_IDS: Final = "tokentrail.tool_calls.ids"
"""The ids of those tool calls, index for index with `TOOL_CALL_NAMES`."""
REQUEST_ATTEMPTS: Final = "tokentrail.request.attempts"
"""How many HTTP attempts the SDK made for this call, its own retries included (int; written when above 1)."""
RETRY_EVENT: Final = "tokentrail.retry"
"""A span event per failed attempt that the SDK retried: `error.type`, `http.response.status_code`,
`RETRY_ATTEMPT` and `RETRY_WAIT`."""
RETRY_ATTEMPT: Final = "tokentrail.retry.attempt"
"""The failed attempt's number (1 for the first try)."""
RETRY_WAIT: Final = "tokentrail.retry.wait_s"
"""Seconds the SDK waited before the next attempt."""
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
REQUEST_ID_HEADER: Final = "x-request-id"
"""The incoming request header whose value the read side finds calls by (captured on the HTTP server span)."""
REQUEST_ID_ATTRIBUTE: Final = "http.request.header.x_request_id"
"""Where the OpenTelemetry HTTP server instrumentations put that header: a string array on the SERVER span."""

# --- metrics (semconv names and bucket boundaries) -----------------------------------------------------
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
METRIC_COST: Final = "tokentrail.client.cost"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
TOKEN_USAGE_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TIME_TO_FIRST_CHUNK_BUCKETS: Final = DURATION_BUCKETS


def span_name(operation: str, model: str | None) -> str:
    """`{operation} {model}` per semconv, or the operation alone when the model is unknown."""
    return f"{operation} {model}" if model else operation
