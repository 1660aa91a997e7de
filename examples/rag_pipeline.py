"""A multi-step RAG pipeline, each step a `@tokentrail.workflow` span, every Claude call one span beneath it.

    export ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=standin   # the local stand-in, or a real key
    export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
    python examples/rag_pipeline.py "Can I get a refund on the annual plan?"

The trace looks like this (`tokentrail trace TRACE_ID`):

    invoke_workflow rag_answer
    ├── invoke_workflow expand_query
    │   └── chat claude-haiku-4-5
    ├── invoke_workflow rerank
    │   └── chat claude-haiku-4-5
    └── invoke_workflow compose
        └── chat claude-sonnet-4-6
"""

from __future__ import annotations

import argparse
import re
import sys

import anthropic

import tokentrail

FAST_MODEL = "claude-haiku-4-5"
ANSWER_MODEL = "claude-sonnet-4-6"
PROMPT_VERSION = "2025-11-rag-v3"

DOCUMENTS = {
    "refunds": "Annual plans are refunded pro rata; money reaches the card in 5-10 business days.",
    "billing-cycle": "Invoices are issued on the first day of the billing period, in the account's currency.",
    "downgrades": "Downgrades take effect at the next renewal; unused seats are not refunded.",
    "sso": "SAML single sign-on is available on the Business plan.",
    "exports": "Workspace admins can export all data as JSON from Settings > Data.",
}


def _text(message: anthropic.types.Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text").strip()


@tokentrail.workflow("expand_query")
def expand_query(client: anthropic.Anthropic, question: str) -> list[str]:
    reply = client.messages.create(
        model=FAST_MODEL,
        max_tokens=100,
        system="Give three alternative search queries for the question, one per line, nothing else.",
        messages=[{"role": "user", "content": question}],
    )
    return [question, *(line for line in _text(reply).splitlines() if line.strip())]


def retrieve(queries: list[str], k: int = 3) -> dict[str, str]:
    """Plain keyword retrieval (no LLM call, so no LLM span)."""
    words = {word for query in queries for word in re.findall(r"[a-z]+", query.lower())}
    ranked = sorted(DOCUMENTS, key=lambda key: -len(words & set(re.findall(r"[a-z]+", DOCUMENTS[key].lower()))))
    return {key: DOCUMENTS[key] for key in ranked[:k]}


@tokentrail.workflow("rerank")
def rerank(client: anthropic.Anthropic, question: str, candidates: dict[str, str]) -> dict[str, str]:
    listing = "\n".join(f"{key}: {text}" for key, text in candidates.items())
    reply = client.messages.create(
        model=FAST_MODEL,
        max_tokens=50,
        system="List the keys of the passages that help answer the question, most useful first, comma-separated.",
        messages=[{"role": "user", "content": f"Question: {question}\n\nPassages:\n{listing}"}],
    )
    chosen = [key.strip() for key in _text(reply).split(",") if key.strip() in candidates]
    return {key: candidates[key] for key in chosen} or candidates  # keep everything if the reply is unusable


@tokentrail.workflow("compose")
def compose(client: anthropic.Anthropic, question: str, passages: dict[str, str]) -> str:
    context = "\n".join(f"[{key}] {text}" for key, text in passages.items())
    reply = client.messages.create(
        model=ANSWER_MODEL,
        max_tokens=400,
        system="Answer from the passages only and cite their keys in brackets.",
        messages=[{"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {question}"}],
    )
    return _text(reply)


@tokentrail.workflow("rag_answer")
def rag_answer(client: anthropic.Anthropic, question: str) -> str:
    queries = expand_query(client, question)
    passages = rerank(client, question, retrieve(queries))
    return compose(client, question, passages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Answer a question with a traced multi-step RAG pipeline.")
    parser.add_argument("question", nargs="?", default="Can I get a refund on the annual plan?")
    parser.add_argument("--user", default="demo-user")
    args = parser.parse_args(argv)

    tokentrail.instrument(service_name="rag-pipeline")
    try:
        with (
            anthropic.Anthropic() as client,  # reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL
            tokentrail.attributes(user_id=args.user, prompt_name="rag_answer", prompt_version=PROMPT_VERSION),
        ):
            print(rag_answer(client, args.question))
    except anthropic.APIError as exc:
        print(f"the pipeline failed: {exc}", file=sys.stderr)
        return 1
    finally:
        tokentrail.uninstrument()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
