"""Streaming chat with the async client: several conversations at once, each turn streamed token by token.

Each conversation runs in its own asyncio task with its own `tokentrail.attributes(...)`, and the attributes stay
with their task: every streamed turn's span carries the right user, session and conversation id, its time to first
chunk, and the tokens the stream reported at its end.

    export ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=standin   # the local stand-in, or a real key
    export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
    python examples/async_streaming_chat.py --conversations 3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

import anthropic

import tokentrail

MODEL = "claude-haiku-4-5"
SYSTEM = "You are a concise, friendly assistant for Acme Cloud customers."
SCRIPTS = (
    ("ana", ["Hi! What plans do you have?", "Which one includes single sign-on?", "Thanks, that's all."]),
    ("ben", ["My export is stuck at 90%.", "It's a 4 GB workspace.", "OK, I'll wait for the email."]),
    ("chloe", ["Can I pay yearly?", "Is there a discount for non-profits?"]),
)


async def converse(client: anthropic.AsyncAnthropic, user: str, turns: list[str], echo: bool) -> int:
    """One multi-turn conversation; returns the output tokens it used."""
    conversation_id = f"conv-{uuid.uuid4().hex[:8]}"
    history: list[anthropic.types.MessageParam] = []
    used = 0
    with tokentrail.attributes(user_id=user, session_id=f"web-{user}", conversation_id=conversation_id):
        for turn in turns:
            history.append({"role": "user", "content": turn})
            async with client.messages.stream(model=MODEL, max_tokens=300, system=SYSTEM, messages=history) as stream:
                async for text in stream.text_stream:
                    if echo:
                        sys.stdout.write(text)
                reply = await stream.get_final_message()
            if echo:
                sys.stdout.write("\n")
            history.append({"role": "assistant", "content": reply.content})
            used += reply.usage.output_tokens
    return used


async def run(conversations: int, echo: bool) -> int:
    async with anthropic.AsyncAnthropic() as client:
        scripts = [SCRIPTS[i % len(SCRIPTS)] for i in range(conversations)]
        used = await asyncio.gather(*(converse(client, user, turns, echo) for user, turns in scripts))
    print(f"{conversations} conversations, {sum(used)} output tokens")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Concurrent streamed chats with Claude, traced by tokentrail.")
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--quiet", action="store_true", help="do not print the streamed replies")
    args = parser.parse_args(argv)

    tokentrail.instrument(service_name="streaming-chat")
    try:
        return asyncio.run(run(args.conversations, echo=not args.quiet and args.conversations == 1))
    except anthropic.APIError as exc:
        print(f"chat failed: {exc}", file=sys.stderr)
        return 1
    finally:
        tokentrail.uninstrument()


if __name__ == "__main__":
    raise SystemExit(main())
