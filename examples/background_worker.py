"""A background worker: triages support tickets with Claude, outside any web request.

There is no incoming request to hang the calls on, so each job opens its own root span with
`tokentrail.workflow(...)`; the token count and the Claude call it makes are its children. Who the work was for
and which job it was go on every call through `tokentrail.attributes(...)`, so costs roll up by customer.

    export ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=standin   # the local stand-in, or a real key
    export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318                  # the collector or the tokentrail sink
    python examples/background_worker.py --jobs 5
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import anthropic

import tokentrail

MODEL = "claude-haiku-4-5"
LONG_TICKET_TOKENS = 2000  # longer tickets are summarised with a larger budget
TRIAGE_PROMPT = (
    "You triage support tickets for Acme Cloud. Reply with one line: the category (billing, access, bug, "
    "feature-request or other), a dash, and a one-sentence summary of what the customer needs."
)

log = logging.getLogger("ticket-worker")


@dataclass(frozen=True)
class Ticket:
    id: str
    customer: str
    text: str


SAMPLE_TICKETS = (
    Ticket("T-1001", "globex", "I was charged twice for the annual plan this month. Please refund one charge."),
    Ticket("T-1002", "initech", "Our SSO login with Okta fails with 'invalid audience' since this morning."),
    Ticket("T-1003", "umbrella", "The CSV export drops rows that contain emoji in the description column."),
    Ticket("T-1004", "globex", "Could you add a dark mode to the dashboard? Our night shift would love it."),
    Ticket("T-1005", "hooli", "How do I raise the concurrent job limit for our workspace before the launch?"),
)


def poll_queue(limit: int) -> Iterator[Ticket]:
    """Stands in for a real queue consumer: yields `limit` tickets, cycling through the samples."""
    for number, ticket in enumerate(itertools.islice(itertools.cycle(SAMPLE_TICKETS), limit)):
        yield Ticket(f"{ticket.id}-{number}", ticket.customer, ticket.text)


def triage(client: anthropic.Anthropic, ticket: Ticket) -> str:
    """One job: a root span for the job, with a token count and one Claude call under it."""
    with (
        tokentrail.workflow("triage_ticket"),
        tokentrail.attributes(user_id=ticket.customer, tags=["worker", "triage"], ticket_id=ticket.id),
    ):
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": ticket.text}]
        counted = client.messages.count_tokens(model=MODEL, system=TRIAGE_PROMPT, messages=messages)
        budget = 300 if counted.input_tokens > LONG_TICKET_TOKENS else 120
        reply = client.messages.create(model=MODEL, max_tokens=budget, system=TRIAGE_PROMPT, messages=messages)
        return "".join(block.text for block in reply.content if block.type == "text")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Triage support tickets with Claude, traced by tokentrail.")
    parser.add_argument("--jobs", type=int, default=5, help="how many tickets to process (default 5)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds to wait between jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    tokentrail.instrument(service_name="ticket-worker")  # the one line of setup: OTLP exporter + instrumentor
    failures = 0
    try:
        with anthropic.Anthropic() as client:
            for ticket in poll_queue(args.jobs):
                try:
                    log.info("%s %s", ticket.id, triage(client, ticket))
                except anthropic.APIError as exc:  # a failed job is logged and the worker moves on
                    failures += 1
                    log.warning("%s failed: %s", ticket.id, exc)
                time.sleep(args.interval)
    finally:
        tokentrail.uninstrument()  # flushes the spans still buffered
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
