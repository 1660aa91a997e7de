"""Application context for LLM calls: who, which session, which prompt version, which workflow step.

    with tokentrail.attributes(user_id="u-42", session_id="s-1", tags=["checkout"], tenant_id="acme"):
        client.messages.create(...)          # the call's span carries user.id, session.id, tags, ...

    @tokentrail.workflow("answer_question")
    async def answer(question: str) -> str: ...  # one INTERNAL span `invoke_workflow answer_question`

Both are built on the OpenTelemetry context (contextvars), so they follow asyncio tasks and, with the usual
OpenTelemetry context propagation, threads. Scopes nest: inner values override outer ones and tags accumulate
(deduplicated, in order). The merged attributes are computed once when a scope is entered and stored in the
context under a single key, so `current_attributes()` is one context lookup.

`workflow` follows the GenAI semantic conventions' "Invoke workflow" span: name `invoke_workflow {name}`, kind
INTERNAL, `gen_ai.operation.name = invoke_workflow`, `gen_ai.workflow.name`; an exception is recorded with
`error.type` and ERROR status and re-raised unchanged. The workflow name is also part of the app attributes, so
every LLM call inside the workflow carries `gen_ai.workflow.name`.

`current_ids()` answers the trace and span ids of the current span (for logs and response headers).

The modules: `api` (`attributes()` / `workflow()` and the coercion of their values), `scope` (the scope machinery:
the context key, nesting, the sync / async / generator decorators), `spans` (the workflow span and its tracer),
`ids` (`current_ids()`), `runtime` (the context switch the hot path uses: attach, detach, read).
"""

from __future__ import annotations

from tokentrail.instrumentation.context.api import attributes, workflow
from tokentrail.instrumentation.context.ids import SpanIds, current_ids
from tokentrail.instrumentation.context.scope import AttributeScope, current_attributes
from tokentrail.instrumentation.context.spans import WorkflowScope, set_tracer_provider

__all__ = [
    "AttributeScope",
    "SpanIds",
    "WorkflowScope",
    "attributes",
    "current_attributes",
    "current_ids",
    "set_tracer_provider",
    "workflow",
]
