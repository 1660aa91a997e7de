"""`make demo` (`python -m tokentrail.dev.demo`): the whole tokentrail pipeline on this machine, end to end.

It starts, each in its own process group, with logs under `<data dir>/logs/`:

1. Postgres: `TOKENTRAIL_DATABASE_URL` if set, else the embedded cluster under `.demo/` (or `TOKENTRAIL_DATA_DIR`);
2. the tokentrail sink, storing every span and every LLM call;
3. the Messages API stand-in (unless `ANTHROPIC_API_KEY` is set: then the calls go to the real API);
4. the OpenTelemetry Collector and Jaeger, when `make stack` has built them (else the app exports straight to the
   sink and the demo says how to get Jaeger);
5. the web UI (`tokentrail ui`, read-only, in this process) over the same database, when the `ui` extra is installed;
6. the example FastAPI app (examples/fastapi_app) under `opentelemetry-instrument`, with no tracing code of its own;

then sends a realistic workload (several users, the three-call RAG workflow with a tool call and a streamed
answer, prompt versions A/B, single chats, one call that fails as overloaded), waits until every call is stored in
Postgres, and prints the cost and latency report, one request as a trace tree, and where to see it: the UI's link
to that trace first, then Jaeger's when the Jaeger it started serves its web UI.
Everything it started is stopped on exit, on an error and on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from tokentrail.dev.demo._cli import main
from tokentrail.dev.demo._processes import Service, Supervisor, free_port, http_ok, listening_url, wait_until
from tokentrail.dev.demo._services import Sink, app_environment, bearer, start_app, start_sink, start_standin
from tokentrail.dev.demo._stack import Endpoints, StackBinaries, find_stack_binaries, start_stack
from tokentrail.dev.demo._workload import DemoRequest, DemoResult, run_workload, workload
from tokentrail.errors import DemoError

__all__ = [
    "DemoError",
    "DemoRequest",
    "DemoResult",
    "Endpoints",
    "Service",
    "Sink",
    "StackBinaries",
    "Supervisor",
    "app_environment",
    "bearer",
    "find_stack_binaries",
    "free_port",
    "http_ok",
    "listening_url",
    "main",
    "run_workload",
    "start_app",
    "start_sink",
    "start_stack",
    "start_standin",
    "wait_until",
    "workload",
]
