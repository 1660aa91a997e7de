"""`make demo` (`python -m tokentrail.dev.demo`): the whole tokentrail pipeline on this machine, end to end.

It starts, each in its own process group, with logs under `<data dir>/logs/`:

1. Postgres: `TOKENTRAIL_DATABASE_URL` if set, else the embedded cluster under `.demo/` (or `TOKENTRAIL_DATA_DIR`);
2. the tokentrail sink, storing every span and every LLM call;
3. the Messages API stand-in (unless `ANTHROPIC_API_KEY` is set: then the calls go to the real API);
4. the OpenTelemetry Collector and Jaeger, when `make stack` has built them (else the app exports straight to the
   sink and the demo says how to get Jaeger);
5. the example FastAPI app (examples/fastapi_app) under `opentelemetry-instrument`, with no tracing code of its own;

then sends a realistic workload (several users, the three-call RAG workflow with a tool call and a streamed
answer, prompt versions A/B, single chats, one call that fails as overloaded), waits until every call is stored in
Postgres, and prints the cost and latency report, one request as a trace tree, and where to see it in Jaeger.
Everything it started is stopped on exit, on an error and on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from tokentrail.errors import DemoError
from tokentrail.sink import settings as _settings

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

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_MODULE = "examples.fastapi_app"
APP_SERVICE_NAME = "acme-answer-service"
DEFAULT_DATA_DIR = Path(".demo")
STANDIN_LATENCY_MS = 40.0
"""Time the stand-in takes to its first byte, so latencies and time to first chunk are not all noise."""
_LISTENING = re.compile(r"listening on (http://[\w.:\[\]-]+)")


# --- processes -------------------------------------------------------------------------------------------
@dataclass
class Service:
    """A child process in its own process group, its output going to a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    independent: bool = False
    """Nothing else flushes into it at shutdown (Jaeger, the stand-in): it may be stopped in parallel."""
    grace: float = 15.0
    """Seconds `stop()` waits after SIGTERM before SIGKILL."""

    def alive(self) -> bool:
        return self.process.poll() is None

    def check(self) -> None:
        """Raise DemoError (with the end of its log) if the process has exited."""
        code = self.process.poll()
        if code is not None:
            raise DemoError(f"{self.name} exited with code {code}; the end of {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    def terminate(self) -> None:
        """SIGTERM to the whole group (without waiting)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM to the whole group, then SIGKILL if it has not exited within `timeout` (default: `grace`) s."""
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(self.grace if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # grandchildren left behind in the group


@dataclass
class Supervisor:
    """Starts services and stops them all, newest first (the app flushes before the pipeline goes away)."""

    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path | None = None,
        *,
        independent: bool = False,
        grace: float = 15.0,
    ) -> Service:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log_file:
            try:
                process = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=dict(env),
                    cwd=cwd,
                    start_new_session=True,  # own process group: Ctrl-C reaches the demo only, which stops it in order
                )
            except OSError as exc:
                raise DemoError(f"could not start {name} ({argv[0]}): {exc}") from exc
        service = Service(name, process, log_path, independent, grace)
        self.services.append(service)
        return service

    def stop_all(self) -> None:
        """Stop every service: newest first, each flushing into the ones still running, while the independent ones
        stop in parallel. A second Ctrl-C meanwhile cannot cut the cleanup short."""
        with _interrupts_deferred():
            independent = [service for service in self.services if service.independent]
            for service in independent:
                service.terminate()
            while self.services:
                self.services.pop().stop()


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def wait_until(what: str, ready: Callable[[], bool], timeout: float, *watch: Service) -> None:
    """Poll `ready` every 0.1 s until it is true; fail if `timeout` passes or a watched service dies."""
    deadline = time.monotonic() + timeout
    while not ready():
        for service in watch:
            service.check()
        if time.monotonic() > deadline:
            detail = "".join(f"\nthe end of {s.log_path}:\n{s.tail()}" for s in watch)
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(0.1)


def listening_url(service: Service, timeout: float = 30.0) -> str:
    """The `listening on http://HOST:PORT` address a service printed first."""
    found: list[str] = []

    def printed() -> bool:
        with contextlib.suppress(OSError):
            match = _LISTENING.search(service.log_path.read_text(errors="replace"))
            if match:
                found.append(match.group(1))
        return bool(found)

    wait_until(f"{service.name} to listen", printed, timeout, service)
    return found[0]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= int(response.status) < 300
    except (OSError, ValueError):
        return False


def free_port(preferred: int | None = None) -> int:
    """`preferred` if it is free on 127.0.0.1, else a free ephemeral port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise DemoError("no free TCP port on 127.0.0.1")  # pragma: no cover - port 0 always binds


def _console_script(name: str) -> str:
    """A console script installed next to this Python (the virtual environment's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise DemoError(f"`{name}` is not installed: run `make setup` (it installs tokentrail with its extras)")
    return found


# --- the collector and Jaeger ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StackBinaries:
    otelcol: Path
    jaeger: Path


def find_stack_binaries() -> StackBinaries | None:
    """The collector and Jaeger built by `make stack`, where `deploy/build-stack.sh --print-paths` says they are;
    None when they are not built."""
    script = REPO_ROOT / "deploy" / "build-stack.sh"
    if not script.is_file():
        return None
    try:
        result = subprocess.run(
            ["bash", str(script), "--print-paths"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    paths = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    binaries = StackBinaries(Path(paths.get("OTELCOL_BIN", "")), Path(paths.get("JAEGER_BIN", "")))
    if all(path.is_file() and os.access(path, os.X_OK) for path in (binaries.otelcol, binaries.jaeger)):
        return binaries
    return None


JAEGER_CONFIG = """\
# Written by tokentrail.dev.demo: Jaeger v2 with in-memory storage, on loopback ports.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    # Jaeger would trace its own queries to localhost:4317, which may be the demo's collector.
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:{ui_port}
    grpc:
      endpoint: 127.0.0.1:{query_grpc_port}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp_grpc_port}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


@dataclass(frozen=True)
class Endpoints:
    otlp_http: str
    """Where the app sends OTLP/HTTP: the collector, or the sink itself when there is no collector."""
    jaeger_ui: str | None


def start_stack(
    supervisor: Supervisor,
    binaries: StackBinaries,
    *,
    work_dir: Path,
    sink_url: str,
    sink_token: str,
    env: Mapping[str, str],
) -> Endpoints:
    """Jaeger (in memory) and the collector with the project's collector-config.yaml, on loopback ports."""
    ui_port = free_port(16686)
    jaeger_otlp = free_port()
    config = work_dir / "jaeger.yaml"
    config.write_text(JAEGER_CONFIG.format(ui_port=ui_port, query_grpc_port=free_port(), otlp_grpc_port=jaeger_otlp))
    # In-memory Jaeger has nothing to save; it takes seconds to drain its servers on SIGTERM, so it gets little grace.
    argv = [str(binaries.jaeger), "--config", str(config)]
    jaeger = supervisor.start("jaeger", argv, env, independent=True, grace=2.0)
    jaeger_ui = f"http://127.0.0.1:{ui_port}"
    wait_until("Jaeger", lambda: http_ok(f"{jaeger_ui}/api/v3/services"), 60, jaeger)

    otlp_http = free_port()
    health = free_port()
    queue_dir = work_dir / "collector-queue"
    queue_dir.mkdir(parents=True, exist_ok=True)
    collector_env = {  # the variables collector-config.yaml reads
        **env,
        "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
        "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{otlp_http}",
        "JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{jaeger_otlp}",
        "TOKENTRAIL_SINK_ENDPOINT": sink_url,
        "TOKENTRAIL_SINK_TOKEN": sink_token,
        "OTELCOL_STORAGE_DIR": str(queue_dir),
        "OTELCOL_STORAGE_FSYNC": "false",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{health}",
        "OTELCOL_METRICS_HOST": "127.0.0.1",
        "OTELCOL_METRICS_PORT": str(free_port()),
        "OTELCOL_LOG_LEVEL": "warn",
    }
    collector = supervisor.start(
        "collector", [str(binaries.otelcol), "--config", str(REPO_ROOT / "collector-config.yaml")], collector_env
    )
    wait_until("the collector", lambda: http_ok(f"http://127.0.0.1:{health}/"), 60, collector)
    return Endpoints(otlp_http=f"http://127.0.0.1:{otlp_http}", jaeger_ui=jaeger_ui)


# --- the workload ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoRequest:
    """One request to the example app, and how many LLM calls it makes if it succeeds or fails."""

    path: str
    body: Mapping[str, object]
    headers: Mapping[str, str]
    calls_ok: int
    calls_failed: int = 1


@dataclass(frozen=True)
class DemoResult:
    request: DemoRequest
    status: int
    seconds: float

    @property
    def llm_calls(self) -> int:
        return self.request.calls_ok if self.status == 200 else self.request.calls_failed


QUESTIONS = (
    "How long does a refund take to reach my card?",
    "Can I switch from the annual plan to monthly in the middle of the year?",
    "How do I export all of our workspace data?",
    "Does the Business plan include single sign-on with Okta?",
    "We keep hitting a limit on concurrent jobs. Can it be raised?",
)
USERS = ("alice", "bob", "carol", "dave")


def workload(quick: bool = False, scripted_errors: bool = True) -> list[DemoRequest]:
    """Several users asking questions (prompt versions v1 and v2 alternating) and streamed chats; with
    `scripted_errors` (the stand-in; the real API ignores the scenario header) also a call that is rate limited once
    and retried, and a request the stand-in answers `overloaded` on every attempt."""
    answers = 4 if quick else 10
    requests: list[DemoRequest] = []
    for number in range(answers):
        user = USERS[number % len(USERS)]
        requests.append(
            DemoRequest(
                "/answer",
                {"question": QUESTIONS[number % len(QUESTIONS)], "session_id": f"{user}-session-{number // 4}"},
                {"x-user-id": user, "x-prompt-version": "v1" if number % 2 == 0 else "v2"},
                calls_ok=3,
            )
        )
    for number in range(1 if quick else 3):
        requests.append(
            DemoRequest(
                "/chat",
                {"message": "Give me one tip for writing good support replies.", "stream": number % 2 == 0},
                {"x-user-id": USERS[number % len(USERS)]},
                calls_ok=1,
            )
        )
    if scripted_errors:
        requests.append(  # rate limited once: the SDK retries inside the one call span, which ends ok
            DemoRequest(
                "/chat",
                {"message": "Summarise our refund policy in one line."},
                {"x-user-id": "erin", "x-standin-scenario": "rate_limit_once"},
                calls_ok=1,
            )
        )
        requests.append(
            DemoRequest(
                "/answer",
                {"question": "Is the service up?"},
                {"x-user-id": "erin", "x-prompt-version": "v2", "x-standin-scenario": "overloaded"},
                calls_ok=3,
                calls_failed=1,  # the first call fails (after the SDK's retry), so the workflow stops there
            )
        )
    return requests


def _send(base_url: str, request: DemoRequest) -> DemoResult:
    data = json.dumps(request.body).encode()
    headers = {"content-type": "application/json", **request.headers}
    started = time.perf_counter()
    http_request = urllib.request.Request(base_url + request.path, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http_request, timeout=120) as response:
            response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return DemoResult(request, status, time.perf_counter() - started)


def run_workload(base_url: str, requests: Sequence[DemoRequest], concurrency: int = 4) -> list[DemoResult]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda request: _send(base_url, request), requests))


# --- Postgres ---------------------------------------------------------------------------------------------------
def _count_calls(database_url: str, service_name: str, since: datetime) -> int:
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM llm_calls WHERE service_name = %s AND start_time >= %s", (service_name, since)
            ).fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def _pick_trace(database_url: str, service_name: str, since: datetime) -> str | None:
    """The newest trace of this run with a successful three-call workflow (the most interesting tree)."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT trace_id FROM llm_calls WHERE service_name = %s AND start_time >= %s"
            " GROUP BY trace_id ORDER BY bool_and(status = 'ok') DESC, count(*) DESC, max(start_time) DESC LIMIT 1",
            (service_name, since),
        ).fetchone()
    return str(row[0]) if row else None


# --- the tokentrail services ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sink:
    url: str
    token: str
    service: Service


def start_sink(
    supervisor: Supervisor,
    database_url: str,
    env: Mapping[str, str],
    *,
    port: int | None = None,
    token: str | None = None,
    name: str = "sink",
    timeout: float = 60.0,
) -> Sink:
    """`python -m tokentrail.sink` on 127.0.0.1 (a free port unless given), ready when `/readyz` answers 200."""
    port = port or free_port()
    token = token or secrets.token_urlsafe(24)
    argv = [sys.executable, "-m", "tokentrail.sink", "--host", "127.0.0.1", "--port", str(port)]
    service = supervisor.start(name, [*argv, "--database-url", database_url], {**env, "TOKENTRAIL_SINK_TOKEN": token})
    url = f"http://127.0.0.1:{port}"
    wait_until(f"{name} to be ready", lambda: http_ok(f"{url}/readyz"), timeout, service)
    return Sink(url, token, service)


def start_standin(supervisor: Supervisor, env: Mapping[str, str], *, latency_ms: float = 0.0) -> tuple[Service, str]:
    """The Messages API stand-in on a free port, answering after `latency_ms`; returns it and its base URL."""
    argv = [sys.executable, "-m", "tokentrail.dev.standin", "--host", "127.0.0.1", "--port", "0"]
    service = supervisor.start("standin", [*argv, "--latency-ms", str(latency_ms)], env, independent=True)
    return service, listening_url(service)


def app_environment(
    env: Mapping[str, str],
    *,
    otlp_endpoint: str,
    otlp_headers: str | None = None,
    anthropic_base_url: str | None = None,
    service_name: str = APP_SERVICE_NAME,
    metrics: bool = False,
) -> dict[str, str]:
    """The environment for the example app under `opentelemetry-instrument`: OTLP/HTTP to `otlp_endpoint`, spans
    flushed every 0.5 s, content captured, and the stand-in as the API when `anthropic_base_url` is given."""
    app_env = {key: value for key, value in env.items() if not key.startswith("OTEL_")}
    app_env |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp" if metrics else "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
        "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "healthz",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    if otlp_headers:
        app_env["OTEL_EXPORTER_OTLP_HEADERS"] = otlp_headers
    if anthropic_base_url:
        app_env |= {"ANTHROPIC_BASE_URL": anthropic_base_url, "ANTHROPIC_API_KEY": "standin-no-key-needed"}
    return app_env


def start_app(supervisor: Supervisor, app_env: Mapping[str, str], *, name: str = "app") -> tuple[Service, str]:
    """examples/fastapi_app under `opentelemetry-instrument` on a free port; returns it and its base URL."""
    if not (REPO_ROOT / "examples" / "fastapi_app" / "app.py").is_file():
        raise DemoError(f"the example app is not in {REPO_ROOT / 'examples'}: run the demo from a tokentrail checkout")
    argv = [_console_script("opentelemetry-instrument"), sys.executable, "-m", APP_MODULE, "--port", "0"]
    service = supervisor.start(name, argv, app_env, cwd=REPO_ROOT)
    url = listening_url(service, timeout=60)
    wait_until(f"{name} to answer", lambda: http_ok(f"{url}/healthz"), 60, service)
    return service, url


def bearer(token: str) -> str:
    """`OTEL_EXPORTER_OTLP_HEADERS` value for a bearer token (values are URL-encoded there)."""
    return f"Authorization=Bearer%20{token}"


# --- main ----------------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokentrail demo", description="Run the whole tokentrail pipeline locally with a workload."
    )
    parser.add_argument("--quick", action="store_true", help="a smaller workload (for CI)")
    parser.add_argument(
        "--hold",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep everything running after the report until Ctrl-C (default: when Jaeger runs and stdout is a TTY)",
    )
    parser.add_argument("--no-stack", action="store_true", help="do not start the collector and Jaeger")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the rows (default 90)")
    parser.add_argument("--data-dir", type=Path, help="where the embedded Postgres and logs live (default .demo/)")
    return parser


def _say(text: str = "") -> None:
    print(text, flush=True)


def _section(title: str) -> None:
    _say()
    _say(f"== {title} " + "=" * max(0, 72 - len(title)))


def _run_cli(args: list[str], database_url: str) -> None:
    from tokentrail import cli

    _say("$ tokentrail " + " ".join(args))
    code = cli.main([*args, "--database-url", database_url])
    if code != 0:
        raise DemoError(f"`tokentrail {' '.join(args)}` exited with code {code}")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 on success, 1 when something failed (one message on stderr), 130 when interrupted."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        with contextlib.ExitStack() as cleanup:
            code = _Demo(args, cleanup).run(started)
        _say(f"stopped everything the demo started; wall time {time.monotonic() - started:.1f} s")
        return code
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started has been stopped", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


class _Demo:
    def __init__(self, args: argparse.Namespace, cleanup: contextlib.ExitStack) -> None:
        self.args = args
        self.cleanup = cleanup
        self.config = _settings.load()
        explicit_dir = self.config.data_dir if self.config.data_dir != _settings.DEFAULT_DATA_DIR else None
        self.data_dir: Path = (args.data_dir or explicit_dir or DEFAULT_DATA_DIR).absolute()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(self.data_dir / "logs")
        self.work_dir = Path(tempfile.mkdtemp(prefix="tokentrail-demo-"))
        # Cleanup runs in reverse order of registration: the processes (app first), Postgres, then scratch files.
        cleanup.callback(shutil.rmtree, self.work_dir, True)
        # Children get our environment minus tokentrail's and OpenTelemetry's own settings, which we set per child.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
        self.env["PYTHONUNBUFFERED"] = "1"
        self.real_api = bool(os.environ.get("ANTHROPIC_API_KEY"))
        self.run_start = datetime.now(timezone.utc)

    def database(self) -> str:
        if self.config.database_url:
            _say(f"postgres    {_redact_url(self.config.database_url)} (TOKENTRAIL_DATABASE_URL)")
            url = self.config.database_url
        else:
            from tokentrail.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, running_url

            embedded = EmbeddedPostgres(self.data_dir)
            already_running = running_url(self.data_dir) is not None
            # Registered before starting, so that Ctrl-C during the start still stops a cluster the demo started.
            self.cleanup.callback(lambda: embedded.stop(force=not already_running))
            try:
                url = embedded.start()
            except EmbeddedPostgresError as exc:
                raise DemoError(str(exc)) from exc
            _say(f"postgres    {url} (embedded, files under {self.data_dir})")
        import psycopg

        from tokentrail.db.migrate import MigrationError, upgrade

        try:
            upgrade(url)
        except (psycopg.Error, MigrationError) as exc:
            raise DemoError(f"cannot prepare the database {_redact_url(url)}: {exc}") from exc
        return url

    def run(self, started: float) -> int:
        _section("starting the pipeline")
        database_url = self.database()
        self.cleanup.callback(self.supervisor.stop_all)
        sink = start_sink(self.supervisor, database_url, self.env)
        _say(f"sink        {sink.url}  (OTLP/HTTP; log {sink.service.log_path})")

        standin_url = None
        if self.real_api:
            api = os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
            _say(f"anthropic   {api} (ANTHROPIC_API_KEY is set: real calls, billed to that key)")
        else:
            _, standin_url = start_standin(self.supervisor, self.env, latency_ms=STANDIN_LATENCY_MS)
            _say(f"anthropic   the local stand-in at {standin_url} (set ANTHROPIC_API_KEY to use the real API)")

        binaries = None if self.args.no_stack else find_stack_binaries()
        if binaries is not None:
            endpoints = start_stack(
                self.supervisor,
                binaries,
                work_dir=self.work_dir,
                sink_url=sink.url,
                sink_token=sink.token,
                env=self.env,
            )
            _say(f"collector   {endpoints.otlp_http}  (fans out to Jaeger and the sink)")
            _say(f"jaeger      {endpoints.jaeger_ui}")
            app_env = app_environment(self.env, otlp_endpoint=endpoints.otlp_http, anthropic_base_url=standin_url)
        else:
            endpoints = Endpoints(otlp_http=sink.url, jaeger_ui=None)
            why = "--no-stack" if self.args.no_stack else "the collector and Jaeger are not built: `make stack`"
            _say(f"jaeger      skipped ({why}); the app exports straight to the sink")
            app_env = app_environment(
                self.env, otlp_endpoint=sink.url, otlp_headers=bearer(sink.token), anthropic_base_url=standin_url
            )
        app, app_url = start_app(self.supervisor, app_env)
        _say(f"app         {app_url}  (examples/fastapi_app under opentelemetry-instrument)")

        requests = workload(quick=self.args.quick, scripted_errors=not self.real_api)
        _section(f"workload: {len(requests)} requests")
        results = run_workload(app_url, requests)
        for status in sorted({result.status for result in results}):
            same = [result for result in results if result.status == status]
            paths = ", ".join(sorted({result.request.path for result in same}))
            median = statistics.median(result.seconds for result in same)
            _say(f"HTTP {status or 'no answer'}: {len(same)} requests ({paths}), median {median:.2f} s")
        if all(result.status != 200 for result in results):
            app.check()
            raise DemoError(f"every request failed; the end of {app.log_path}:\n{app.tail()}")
        expected = sum(result.llm_calls for result in results)
        _say(f"waiting for {expected} LLM calls to reach Postgres ...")
        stored = [0]

        def arrived() -> bool:
            stored[0] = _count_calls(database_url, APP_SERVICE_NAME, self.run_start)
            return stored[0] >= expected

        waited = time.monotonic()
        wait_until(f"{expected} LLM calls in Postgres", arrived, self.args.timeout, app, sink.service)
        _say(f"{stored[0]} LLM calls stored, {time.monotonic() - waited:.1f} s after the last response")

        trace_id = self.report(database_url)
        _section("where to look next")
        if endpoints.jaeger_ui:
            _say(
                f"Jaeger:   {endpoints.jaeger_ui}/trace/{trace_id}" if trace_id else f"Jaeger:   {endpoints.jaeger_ui}"
            )
        else:
            _say("Jaeger:   not started; run `make stack` once to build the collector and Jaeger, then `make demo`")
        _say(f"SQL/CLI:  TOKENTRAIL_DATABASE_URL={_redact_url(database_url)} tokentrail calls --since 1h")
        _say(f"logs:     {self.supervisor.log_dir}")
        _say(f"ready:    {time.monotonic() - started:.1f} s after the start")

        hold = self.args.hold
        if hold is None:
            hold = endpoints.jaeger_ui is not None and sys.stdout.isatty()
        if hold:
            _say("\neverything keeps running so you can explore; press Ctrl-C to stop")
            while True:
                for service in self.supervisor.services:
                    service.check()
                time.sleep(1)
        return 0

    def report(self, database_url: str) -> str | None:
        since = self.run_start.strftime("%Y-%m-%dT%H:%M:%SZ")
        _section("cost and latency by model")
        _run_cli(["stats", "--by", "model", "--since", since], database_url)
        _section("by user")
        _run_cli(["stats", "--by", "user", "--since", since], database_url)
        _section("prompt versions A/B")
        _run_cli(["compare", "--prompt", "answer", "--since", since], database_url)
        if not self.real_api:
            _section("what failed")
            _run_cli(["calls", "--status", "error", "--since", since, "--limit", "5"], database_url)
        trace_id = _pick_trace(database_url, APP_SERVICE_NAME, self.run_start)
        if trace_id:
            _section("one request, step by step")
            _run_cli(["trace", trace_id], database_url)
        return trace_id


def _redact_url(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


if __name__ == "__main__":
    raise SystemExit(main())
