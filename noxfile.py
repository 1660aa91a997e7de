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
    # 0.x: httpx transport, no native tracing
    "0.59.0": ["anthropic[bedrock,vertex]==0.59.0"],
    # 1.x before native tracing (httpx2 transport); native call spans arrived in 1.14
    "1.13.0": ["anthropic[bedrock,vertex]==1.13.0"],
}


@nox.session(python="3.11")
@nox.parametrize("sdk", list(SDK_GENERATIONS))
def sdk(session: nox.Session, sdk: str) -> None:
    session.install("-e", ".[dev,sink]", *SDK_GENERATIONS[sdk])
    session.run("python", "-c", "import anthropic; print('anthropic', anthropic.__version__)")
    session.run("pytest", "tests/instrumentation", "tests/test_setup.py", *session.posargs)
