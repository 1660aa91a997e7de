"""Shutting down is bounded: a dead or hanging OTLP endpoint never holds up the application's exit or `uninstrument()`.

Each test runs a small application in a subprocess. It calls `tokentrail.instrument()` with the endpoint pointed at
a port on 127.0.0.1 that refuses connections, or at a blackhole (a local TCP server that accepts connections and
never answers, like a hung collector), makes three calls to the stand-in Anthropic API (so spans and metrics are
waiting to be exported) and exits, over OTLP/HTTP and over OTLP/gRPC. Times run from the application's last line to
its exit, so the interpreter's start-up does not count. The bounds are generous: the deadline plus several seconds
of slack.

The zero-code path (`opentelemetry-instrument`, no `instrument()` call) is bounded the same way by the configurator.

Python 3.12+ starts no thread from an exit hook; the application can make this interpreter do the same
(`NO_THREADS_AT_EXIT`), so that path is covered here too, against a live receiver as well as a dead endpoint.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tokentrail.dev.standin import StandinServer

MODEL = "claude-haiku-4-5"
BOUND = 10.0
"""Seconds an exit or `uninstrument()` may take with the default shutdown timeout (5 s)."""
SHORT = 1.0
"""A shutdown timeout well below the default, for the tests that the setting is honoured."""
SHORT_BOUND = 4.5
"""Under the default timeout, so passing proves the shorter setting took effect (a blackhole never answers)."""

APP = textwrap.dedent(
    f"""
    import atexit, json, os, threading, time
    import anthropic
    import tokentrail

    tokentrail.instrument(service_name="shutdown-app", **json.loads(os.environ["INSTRUMENT_KWARGS"]))
    client = anthropic.Anthropic(api_key="test", base_url=os.environ["STANDIN_URL"], max_retries=0)
    for _ in range(3):
        client.messages.create(model="{MODEL}", max_tokens=16, messages=[{{"role": "user", "content": "Hi."}}])
    took = None
    if os.environ.get("UNINSTRUMENT"):
        started = time.monotonic()
        tokentrail.uninstrument()
        took = time.monotonic() - started
    if os.environ.get("NO_THREADS_AT_EXIT"):  # as Python 3.12+ does; this hook runs before tokentrail's

        def refuse(self):
            raise RuntimeError("can't create new thread at interpreter shutdown")

        atexit.register(setattr, threading.Thread, "start", refuse)
    print(json.dumps({{"uninstrument_s": took}}), flush=True)
    """
)

ZERO_CODE_APP = textwrap.dedent(
    f"""
    import json, os
    import anthropic

    client = anthropic.Anthropic(api_key="test", base_url=os.environ["STANDIN_URL"], max_retries=0)
    for _ in range(3):
        client.messages.create(model="{MODEL}", max_tokens=16, messages=[{{"role": "user", "content": "Hi."}}])
    print(json.dumps({{"uninstrument_s": None}}), flush=True)
    """
)
"""The application run under `opentelemetry-instrument`: the endpoint comes from `OTEL_EXPORTER_OTLP_ENDPOINT`."""


@dataclass
class Run:
    exit_s: float
    """From the application's last line to the end of the process."""
    uninstrument_s: float | None


@pytest.fixture
def refused() -> Iterator[str]:
    """An OTLP endpoint that refuses connections: a port held bound, with nobody listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An OTLP endpoint that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()
    for conn in held:
        conn.close()


@dataclass
class Receiver:
    url: str = ""
    spans: list[str] = field(default_factory=list)
    metrics: set[str] = field(default_factory=set)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A live OTLP/HTTP endpoint that keeps the span names and metric names it receives."""
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    state.spans += [s.name for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
                else:
                    metrics = ExportMetricsServiceRequest.FromString(body)
                    state.metrics |= {
                        m.name for r in metrics.resource_metrics for sm in r.scope_metrics for m in sm.metrics
                    }
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["refused", "blackhole"])
def dead_endpoint(request: pytest.FixtureRequest) -> str:
    endpoint: str = request.getfixturevalue(request.param)
    return endpoint


@pytest.fixture(params=["http/protobuf", "grpc"])
def protocol(request: pytest.FixtureRequest) -> dict[str, str]:
    """The OTLP protocol of both signals, as the environment chooses it."""
    if request.param == "grpc":
        pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    return {"OTEL_EXPORTER_OTLP_PROTOCOL": str(request.param)}


def run_app(
    tmp_path: Path,
    standin: StandinServer,
    bound: float,
    *,
    instrument: dict[str, Any],
    env: dict[str, str] | None = None,
    uninstrument: bool = False,
    zero_code: bool = False,
) -> Run:
    script = tmp_path / "app.py"
    script.write_text(ZERO_CODE_APP if zero_code else APP, encoding="utf-8")
    command = [str(Path(sys.executable).parent / "opentelemetry-instrument")] if zero_code else []
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    full_env = {
        **clean,
        "STANDIN_URL": standin.base_url,
        "INSTRUMENT_KWARGS": json.dumps(instrument),
        "PYTHONWARNINGS": "ignore",
        **({"UNINSTRUMENT": "1"} if uninstrument else {}),
        **(env or {}),
    }
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [*command, sys.executable, str(script)], env=full_env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            ended = time.monotonic()
            try:
                process.wait(timeout=bound)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the application took more than {bound} s to exit:\n{stderr_path.read_text()[-3000:]}")
            exit_s = time.monotonic() - ended
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()
    output = stderr_path.read_text(encoding="utf-8")
    assert process.returncode == 0, output
    assert line, output
    assert "using HTTP/protobuf" not in output  # the protocol asked for is the one exercised
    return Run(exit_s, json.loads(line)["uninstrument_s"])


def test_the_application_exits_promptly_when_the_collector_is_dead(
    tmp_path: Path, standin: StandinServer, dead_endpoint: str, protocol: dict[str, str]
) -> None:
    run = run_app(tmp_path, standin, BOUND, instrument={"endpoint": dead_endpoint}, env=protocol)
    assert run.exit_s < BOUND
    assert len(standin.requests) == 3  # the calls went through


def test_uninstrument_returns_promptly_when_the_collector_is_dead(
    tmp_path: Path, standin: StandinServer, dead_endpoint: str, protocol: dict[str, str]
) -> None:
    run = run_app(tmp_path, standin, BOUND, instrument={"endpoint": dead_endpoint}, env=protocol, uninstrument=True)
    assert run.uninstrument_s is not None
    assert run.uninstrument_s < BOUND
    assert run.exit_s < BOUND  # nothing left to shut down at exit
    assert len(standin.requests) == 3  # the calls went through


def test_the_shutdown_timeout_variable_shortens_the_exit_whatever_the_exporter_timeout(
    tmp_path: Path, standin: StandinServer, blackhole: str
) -> None:
    env = {"TOKENTRAIL_SHUTDOWN_TIMEOUT": str(SHORT), "OTEL_EXPORTER_OTLP_TIMEOUT": "30"}
    run = run_app(tmp_path, standin, SHORT_BOUND, instrument={"endpoint": blackhole}, env=env)
    assert run.exit_s < SHORT_BOUND


def test_the_shutdown_timeout_argument_bounds_uninstrument_which_still_tries_to_export(
    tmp_path: Path, standin: StandinServer, blackhole: str, protocol: dict[str, str]
) -> None:
    run = run_app(
        tmp_path,
        standin,
        SHORT_BOUND,
        instrument={"endpoint": blackhole, "shutdown_timeout": SHORT},
        env={"TOKENTRAIL_SHUTDOWN_TIMEOUT": "30", **protocol},  # the argument wins
        uninstrument=True,
    )
    assert run.uninstrument_s is not None
    assert SHORT * 0.99 <= run.uninstrument_s < SHORT_BOUND  # waited for the export, up to the deadline


def test_without_threads_at_exit_everything_is_still_exported(
    tmp_path: Path, standin: StandinServer, receiver: Receiver
) -> None:
    run_app(tmp_path, standin, BOUND, instrument={"endpoint": receiver.url}, env={"NO_THREADS_AT_EXIT": "1"})
    assert receiver.spans == [f"chat {MODEL}"] * 3
    assert "gen_ai.client.token.usage" in receiver.metrics


def test_without_threads_at_exit_the_exit_is_still_bounded(
    tmp_path: Path, standin: StandinServer, blackhole: str, protocol: dict[str, str]
) -> None:
    env = {"NO_THREADS_AT_EXIT": "1", **protocol}
    run = run_app(tmp_path, standin, BOUND, instrument={"endpoint": blackhole}, env=env)
    assert run.exit_s < BOUND


def test_opentelemetry_instrument_exits_promptly_when_the_collector_is_dead(
    tmp_path: Path, standin: StandinServer, dead_endpoint: str, protocol: dict[str, str]
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": dead_endpoint, "OTEL_EXPORTER_OTLP_TIMEOUT": "30", **protocol}
    run = run_app(tmp_path, standin, BOUND, instrument={}, env=env, zero_code=True)
    assert run.exit_s < BOUND
    assert len(standin.requests) == 3  # the calls went through
