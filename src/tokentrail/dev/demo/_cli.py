"""`python -m tokentrail.dev.demo` / `tokentrail demo`: the argument parser, and the run from start to report."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from tokentrail.dev.demo._postgres import count_calls, prepare_database
from tokentrail.dev.demo._processes import Supervisor, wait_until
from tokentrail.dev.demo._report import print_next_steps, print_report, print_workload, say, section
from tokentrail.dev.demo._services import (
    APP_SERVICE_NAME,
    STANDIN_LATENCY_MS,
    app_environment,
    bearer,
    start_app,
    start_sink,
    start_standin,
)
from tokentrail.dev.demo._stack import Endpoints, find_stack_binaries, jaeger_serves_ui, start_stack
from tokentrail.dev.demo._workload import run_workload, workload
from tokentrail.errors import DemoError
from tokentrail.sink import settings as _settings

__all__ = ["DEFAULT_DATA_DIR", "main"]

DEFAULT_DATA_DIR = Path(".demo")


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
        say(f"stopped everything the demo started; wall time {time.monotonic() - started:.1f} s")
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
    """One run: its settings, data and scratch directories, child environment and supervisor."""

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

    def run(self, started: float) -> int:
        section("starting the pipeline")
        database_url = prepare_database(self.config.database_url, self.data_dir, self.cleanup)
        self.cleanup.callback(self.supervisor.stop_all)
        sink = start_sink(self.supervisor, database_url, self.env)
        say(f"sink        {sink.url}  (OTLP/HTTP; log {sink.service.log_path})")

        standin_url = None
        if self.real_api:
            api = os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
            say(f"anthropic   {api} (ANTHROPIC_API_KEY is set: real calls, billed to that key)")
        else:
            _, standin_url = start_standin(self.supervisor, self.env, latency_ms=STANDIN_LATENCY_MS)
            say(f"anthropic   the local stand-in at {standin_url} (set ANTHROPIC_API_KEY to use the real API)")

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
            say(f"collector   {endpoints.otlp_http}  (fans out to Jaeger and the sink)")
            say(f"jaeger      {endpoints.jaeger_ui}")
            app_env = app_environment(self.env, otlp_endpoint=endpoints.otlp_http, anthropic_base_url=standin_url)
        else:
            endpoints = Endpoints(otlp_http=sink.url, jaeger_ui=None)
            why = "--no-stack" if self.args.no_stack else "the collector and Jaeger are not built: `make stack`"
            say(f"jaeger      skipped ({why}); the app exports straight to the sink")
            app_env = app_environment(
                self.env, otlp_endpoint=sink.url, otlp_headers=bearer(sink.token), anthropic_base_url=standin_url
            )
        jaeger_has_ui = endpoints.jaeger_ui is not None and jaeger_serves_ui(endpoints.jaeger_ui)
        ui_url = self._start_ui(database_url, endpoints.jaeger_ui if jaeger_has_ui else None)
        app, app_url = start_app(self.supervisor, app_env)
        say(f"app         {app_url}  (examples/fastapi_app under opentelemetry-instrument)")

        requests = workload(quick=self.args.quick, scripted_errors=not self.real_api)
        section(f"workload: {len(requests)} requests")
        results = run_workload(app_url, requests)
        print_workload(results)
        if all(result.status != 200 for result in results):
            app.check()
            raise DemoError(f"every request failed; the end of {app.log_path}:\n{app.tail()}")
        expected = sum(result.llm_calls for result in results)
        say(f"waiting for {expected} LLM calls to reach Postgres ...")
        stored = [0]

        def arrived() -> bool:
            stored[0] = count_calls(database_url, APP_SERVICE_NAME, self.run_start)
            return stored[0] >= expected

        waited = time.monotonic()
        wait_until(f"{expected} LLM calls in Postgres", arrived, self.args.timeout, app, sink.service)
        say(f"{stored[0]} LLM calls stored, {time.monotonic() - waited:.1f} s after the last response")

        trace_id = print_report(database_url, self.run_start, failures=not self.real_api)
        print_next_steps(
            endpoints.jaeger_ui,
            trace_id,
            database_url,
            self.supervisor.log_dir,
            time.monotonic() - started,
            ui_url=ui_url,
            jaeger_has_ui=jaeger_has_ui,
        )

        hold = self.args.hold
        if hold is None:
            hold = (ui_url is not None or endpoints.jaeger_ui is not None) and sys.stdout.isatty()
        if hold:
            say("\neverything keeps running so you can explore; press Ctrl-C to stop")
            while True:
                for service in self.supervisor.services:
                    service.check()
                time.sleep(1)
        return 0

    def _start_ui(self, database_url: str, jaeger_url: str | None) -> str | None:
        """The web UI over the demo's database, in this process on a free loopback port (linking to Jaeger when it
        serves its UI); None without the `ui` extra."""
        try:
            from tokentrail.ui.main import start
            from tokentrail.ui.settings import UiSettings
        except ModuleNotFoundError as exc:
            say(f"ui          skipped ({exc}; `pip install 'tokentrail[ui]'`)")
            return None
        running = start(UiSettings(database_url=database_url, port=0, jaeger_url=jaeger_url))
        self.cleanup.callback(running.stop)
        say(f"ui          {running.url}/  (tokentrail ui, read-only)")
        return running.url
