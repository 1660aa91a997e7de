"""The answer service: a FastAPI app that answers questions about a small knowledge base with Claude.

There is no tracing setup in this file. Start it under OpenTelemetry's zero-code launcher and tokentrail's
instrumentor (entry point `tokentrail_anthropic`) and the FastAPI instrumentation are loaded for you:

    export ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=standin   # the local stand-in, or a real key
    export OTEL_SERVICE_NAME=answer-service OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
    opentelemetry-instrument uvicorn examples.fastapi_app.app:app
    # or: opentelemetry-instrument python -m examples.fastapi_app --port 8000

    curl -s localhost:8000/answer -H 'content-type: application/json' -H 'x-user-id: alice' \
         -d '{"question": "How long do refunds take?"}'

Each `POST /answer` runs a retrieval-augmented workflow of three Claude calls, all children of the request's
server span and of one `answer` workflow span:

1. query understanding: a small model turns the question into a search query;
2. tool use: the main model is offered the `search_docs` tool and asks for a search; the app runs it locally;
3. synthesis: the main model writes the answer from the tool result, streamed.

Calls 2 and 3 share the tool definitions and the system prompt, marked for prompt caching.

The only tokentrail lines are the two that add meaning the SDK cannot know: `tokentrail.attributes(...)` (who
asked, which prompt version) and `tokentrail.workflow(...)` (these three calls are one piece of work).
`POST /chat` is a single call (optionally streamed), for load and fault tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anthropic
from anthropic.types import MessageParam, TextBlockParam, ToolParam, ToolResultBlockParam
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import tokentrail

UNDERSTANDING_MODEL = "claude-haiku-4-5"
ANSWER_MODEL = "claude-sonnet-4-6"

# Two versions of the answer prompt, A/B tested by the caller with the `x-prompt-version` header.
PROMPT_NAME = "answer"
ANSWER_PROMPTS = {
    "v1": "You are Acme Cloud's support assistant. Answer from the search results only, in two sentences.",
    "v2": (
        "You are Acme Cloud's support assistant. Answer the customer's question using only the search results "
        "you were given. Be concise and friendly, cite the document titles you used in brackets, and say plainly "
        "when the results do not contain the answer rather than guessing."
    ),
}
DEFAULT_PROMPT_VERSION = "v1"

KNOWLEDGE_BASE = {
    "Refund policy": "Refunds for annual plans are prorated and reach the original card within 5 to 10 business days.",
    "Changing plans": "Upgrades apply immediately; downgrades take effect at the start of the next billing period.",
    "Data export": "Admins can export all workspace data as JSON from Settings > Data; large exports arrive by email.",
    "Single sign-on": "SAML single sign-on is available on the Business plan with Okta, Entra ID and Google.",
    "Service limits": "Each workspace may run 50 concurrent jobs; contact support to raise the limit.",
}

SEARCH_TOOL: ToolParam = {
    "name": "search_docs",
    "description": "Search the Acme Cloud help centre and return the most relevant articles.",
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Keywords to search for."},
            "top_k": {"type": "integer", "description": "How many articles to return.", "minimum": 1, "maximum": 5},
        },
        "required": ["query"],
    },
}

# The local stand-in API picks scripted outcomes (errors, ...) from this request header. Forwarding it lets a demo
# or a test drive the whole app into those outcomes; the real API ignores it.
SCENARIO_HEADER = "x-standin-scenario"


class AnswerRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    session_id: str | None = None


class AnswerResponse(BaseModel):
    answer: str
    search_query: str
    sources: list[str]
    prompt_version: str


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=8000)
    stream: bool = False
    model: str = UNDERSTANDING_MODEL


class ChatResponse(BaseModel):
    reply: str
    input_tokens: int
    output_tokens: int


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One client for the app's lifetime; it reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL from the environment.
    async with anthropic.AsyncAnthropic(max_retries=1) as client:
        app.state.claude = client
        yield


app = FastAPI(title="Acme answer service (tokentrail example)", lifespan=lifespan)


@app.exception_handler(anthropic.APIError)
async def claude_failed(request: Request, exc: anthropic.APIError) -> JSONResponse:
    """Claude errors become 502/503 answers; the LLM span already recorded `error.type`."""
    status = 503 if isinstance(exc, (anthropic.RateLimitError, anthropic.InternalServerError)) else 502
    return JSONResponse({"detail": f"the language model call failed: {type(exc).__name__}"}, status_code=status)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/answer")
async def answer(
    body: AnswerRequest,
    request: Request,
    user_id: Annotated[str | None, Header(alias="x-user-id")] = None,
    prompt_version: Annotated[str, Header(alias="x-prompt-version")] = DEFAULT_PROMPT_VERSION,
    scenario: Annotated[str | None, Header(alias=SCENARIO_HEADER)] = None,
) -> AnswerResponse:
    if prompt_version not in ANSWER_PROMPTS:
        raise HTTPException(400, f"unknown prompt version {prompt_version!r}; use one of {sorted(ANSWER_PROMPTS)}")
    extra_headers = {SCENARIO_HEADER: scenario} if scenario else None
    with tokentrail.attributes(
        user_id=user_id, session_id=body.session_id, prompt_name=PROMPT_NAME, prompt_version=prompt_version
    ):
        return await answer_workflow(request.app.state.claude, body.question, prompt_version, extra_headers)


@tokentrail.workflow("answer")
async def answer_workflow(
    claude: anthropic.AsyncAnthropic, question: str, prompt_version: str, extra_headers: dict[str, str] | None
) -> AnswerResponse:
    # 1. Query understanding: a small, cheap model rewrites the question as a search query.
    understood = await claude.messages.create(
        model=UNDERSTANDING_MODEL,
        max_tokens=64,
        system="Rewrite the user's question as a short keyword search query. Reply with the query only.",
        messages=[{"role": "user", "content": question}],
        extra_headers=extra_headers,
    )
    search_query = _text(understood.content).strip() or question

    # 2. Tool use: the answer model is made to call `search_docs`; the app runs the search itself.
    history: list[MessageParam] = [{"role": "user", "content": f"{question}\n\n(Suggested search: {search_query})"}]
    planned = await claude.messages.create(
        model=ANSWER_MODEL,
        max_tokens=256,
        system=cached_system(prompt_version),
        tools=[SEARCH_TOOL],
        tool_choice={"type": "tool", "name": "search_docs"},
        messages=history,
        extra_headers=extra_headers,
    )
    tool_calls = [block for block in planned.content if block.type == "tool_use"]
    history.append({"role": "assistant", "content": planned.content})
    results: list[ToolResultBlockParam] = []
    sources: list[str] = []
    for call in tool_calls:
        arguments: dict[str, Any] = call.input if isinstance(call.input, dict) else {}
        top_k = arguments.get("top_k")
        found = search_docs(str(arguments.get("query") or search_query), top_k if isinstance(top_k, int) else 2)
        sources += [title for title in found if title not in sources]
        results.append({"type": "tool_result", "tool_use_id": call.id, "content": json.dumps(found)})
    if not results:  # the model answered without searching: search for it
        found = search_docs(search_query, 2)
        sources = list(found)
        history = [{"role": "user", "content": f"{question}\n\nSearch results: {json.dumps(found)}"}]
    else:
        history.append({"role": "user", "content": results})

    # 3. Synthesis, streamed: the answer model writes the reply from the search results.
    chunks: list[str] = []
    async with claude.messages.stream(
        model=ANSWER_MODEL,
        max_tokens=512,
        system=cached_system(prompt_version),
        tools=[SEARCH_TOOL],
        tool_choice={"type": "none"},
        messages=history,
        extra_headers=extra_headers,
    ) as stream:
        async for text in stream.text_stream:
            chunks.append(text)  # a real app would forward these to the browser as they arrive
    return AnswerResponse(
        answer="".join(chunks), search_query=search_query, sources=sources, prompt_version=prompt_version
    )


@app.post("/chat")
async def chat(
    body: ChatRequest,
    request: Request,
    user_id: Annotated[str | None, Header(alias="x-user-id")] = None,
    scenario: Annotated[str | None, Header(alias=SCENARIO_HEADER)] = None,
) -> ChatResponse:
    """One Claude call, optionally streamed."""
    claude: anthropic.AsyncAnthropic = request.app.state.claude
    params: dict[str, Any] = {
        "model": body.model,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": body.message}],
        "extra_headers": {SCENARIO_HEADER: scenario} if scenario else None,
    }
    with tokentrail.attributes(user_id=user_id):
        if body.stream:
            async with claude.messages.stream(**params) as stream:
                message = await stream.get_final_message()
        else:
            message = await claude.messages.create(**params)
    return ChatResponse(
        reply=_text(message.content), input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens
    )


def cached_system(prompt_version: str) -> list[TextBlockParam]:
    """The answer prompt, marked for prompt caching: the tool definitions and this prompt repeat on every call, so
    later calls read them from the cache at a tenth of the input price (the real API caches prompts of 1024+ tokens)."""
    return [{"type": "text", "text": ANSWER_PROMPTS[prompt_version], "cache_control": {"type": "ephemeral"}}]


def search_docs(query: str, top_k: int = 2) -> dict[str, str]:
    """A tiny keyword search over the knowledge base: titles and texts ranked by shared words."""
    words = _words(query)
    ranked = sorted(
        KNOWLEDGE_BASE, key=lambda title: len(words & _words(f"{title} {KNOWLEDGE_BASE[title]}")), reverse=True
    )
    return {title: KNOWLEDGE_BASE[title] for title in ranked[: max(1, min(top_k, 5))]}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def _text(blocks: Any) -> str:
    return "".join(block.text for block in blocks if getattr(block, "type", None) == "text")
