"""Test environments that cannot share the main virtual environment.

- `sdk`: the instrumentation tests on each Anthropic SDK generation users run (the newest runs in the main env).
- `interop`: the sink's normalisation of spans that peer instrumentations really produce.
- `bench`: per-call overhead against the peers, and sink ingest throughput.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True

SDK_GENERATIONS = {
    # the oldest release tokentrail supports (pyproject: anthropic >= 0.41)
    "0.41.0": ["anthropic[bedrock,vertex]==0.41.0"],
    # 0.x: httpx transport, no native tracing
    "0.59.0": ["anthropic[bedrock,vertex]==0.59.0"],
    # 1.x before native tracing (httpx2 transport); native call spans arrived in 1.14
    "1.13.0": ["anthropic[bedrock,vertex]==1.13.0"],
}


@nox.session(python="3.11")
@nox.parametrize("sdk", list(SDK_GENERATIONS))
def sdk(session: nox.Session, sdk: str) -> None:
    # All the extras the tests import, so none of them is skipped for a missing package on an older SDK.
    session.install("-e", ".[dev,sink,grpc,fastapi]", *SDK_GENERATIONS[sdk])
    session.run("python", "-c", "import anthropic; print('anthropic', anthropic.__version__)")
    session.run("pytest", "tests/instrumentation", "tests/contract", "tests/dev/standin", *session.posargs)


# Each peer instrumentation in its own environment (their pins conflict), with the newest anthropic it supports.
INTEROP_PEERS = {
    "openllmetry": ["opentelemetry-instrumentation-anthropic", "anthropic"],
    "openinference": ["openinference-instrumentation-anthropic", "anthropic"],
    "otel-genai": ["opentelemetry-instrumentation-genai-anthropic", "anthropic"],
    "openlit": ["openlit"],  # OpenLIT 1.x requires anthropic < 1.0: the resolver picks the newest 0.x
    "logfire": ["logfire", "anthropic"],
    # OpenLLMetry's legacy attribute generation, with the OpenTelemetry and anthropic releases it was built for
    "openllmetry-legacy": [
        "opentelemetry-instrumentation-anthropic==0.47.5",
        "anthropic==0.59.0",
        "opentelemetry-api==1.36.0",
        "opentelemetry-sdk==1.36.0",
        "opentelemetry-exporter-otlp-proto-http==1.36.0",
        "opentelemetry-proto==1.36.0",
        "opentelemetry-instrumentation==0.57b0",
        "opentelemetry-semantic-conventions==0.57b0",
    ],
}


@nox.session(python="3.11")
@nox.parametrize("peer", list(INTEROP_PEERS), ids=list(INTEROP_PEERS))
def interop(session: nox.Session, peer: str) -> None:
    """The sink's translation of the spans each peer instrumentation really produces (tests/sink/test_interop*)."""
    session.install("-e", ".[dev,sink]", *INTEROP_PEERS[peer])
    session.run("python", "-c", "import anthropic; print('anthropic', anthropic.__version__)")
    selected = "openllmetry and not legacy" if peer == "openllmetry" else peer
    session.run("pytest", "tests/sink/test_interop_peers.py", "-k", selected, *session.posargs)


# The benchmark's competitors share one environment: the newest anthropic that all of them accept.
BENCH_PEERS = [
    "anthropic",
    "opentelemetry-instrumentation-anthropic",
    "openinference-instrumentation-anthropic",
    "opentelemetry-instrumentation-genai-anthropic",
]


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Per-call overhead of tokentrail and its peers over the bare SDK (bench/overhead.py), tokentrail's own cost
    switched on and off in one process (bench/inprocess.py), and its own work in instructions under callgrind
    (bench/instructions.py): all into docs/benchmarks.md."""
    session.install("-e", ".", *BENCH_PEERS)
    session.run("python", "bench/overhead.py", *session.posargs)
    session.run("python", "bench/inprocess.py")
    session.run("python", "bench/instructions.py")
