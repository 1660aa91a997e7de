"""Starting tokentrail's own services for the demo: the sink, the Messages API stand-in and the example app."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from tokentrail.dev.demo._checkout import REPO_ROOT
from tokentrail.dev.demo._processes import (
    Service,
    Supervisor,
    console_script,
    free_port,
    http_ok,
    listening_url,
    wait_until,
)
from tokentrail.errors import DemoError

__all__ = [
    "APP_MODULE",
    "APP_SERVICE_NAME",
    "STANDIN_LATENCY_MS",
    "Sink",
    "app_environment",
    "bearer",
    "start_app",
    "start_sink",
    "start_standin",
]

APP_MODULE = "examples.fastapi_app"
APP_SERVICE_NAME = "acme-answer-service"
STANDIN_LATENCY_MS = 40.0
"""Time the stand-in takes to its first byte, so latencies and time to first chunk are not all noise."""


@dataclass(frozen=True)
class Sink:
    """A running sink: its base URL, its bearer token and its process."""

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
    argv = [console_script("opentelemetry-instrument"), sys.executable, "-m", APP_MODULE, "--port", "0"]
    service = supervisor.start(name, argv, app_env, cwd=REPO_ROOT)
    url = listening_url(service, timeout=60)
    wait_until(f"{name} to answer", lambda: http_ok(f"{url}/healthz"), 60, service)
    return service, url


def bearer(token: str) -> str:
    """`OTEL_EXPORTER_OTLP_HEADERS` value for a bearer token (values are URL-encoded there)."""
    return f"Authorization=Bearer%20{token}"
