"""The OpenTelemetry Collector and Jaeger built by `make stack`: finding them and starting them on loopback ports."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tokentrail.dev.demo._checkout import REPO_ROOT
from tokentrail.dev.demo._processes import Supervisor, free_port, http_ok, wait_until

__all__ = ["JAEGER_CONFIG", "Endpoints", "StackBinaries", "find_stack_binaries", "start_stack"]


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


JAEGER_PLACEHOLDER = "This is not the Jaeger UI you are looking for"
"""What a Jaeger built without its UI assets serves on `/` (the locally built one; the official image has the UI)."""


def jaeger_serves_ui(jaeger_ui: str) -> bool:
    """Whether the Jaeger at `jaeger_ui` serves its real web UI, not the placeholder page."""
    import urllib.request

    try:
        with urllib.request.urlopen(jaeger_ui + "/", timeout=5) as response:
            return JAEGER_PLACEHOLDER not in response.read(65536).decode("utf-8", "replace")
    except (OSError, ValueError):
        return False


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
