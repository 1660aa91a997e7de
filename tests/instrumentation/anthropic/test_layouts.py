"""An SDK whose layout the patch table does not know (anthropic 0.40 kept `messages` in a module of another path)
gets one warning naming its version, and the supported SDK none.

The unknown layout is a small package shaped like anthropic 0.40's `resources` (a `messages` module, a `beta`
package with `messages`), first on the path of a subprocess, so the real SDK of this environment stays untouched.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

FILES = {
    "anthropic/__init__.py": '__version__ = "0.40.0"\n',
    "anthropic/resources/__init__.py": "",
    "anthropic/resources/messages.py": textwrap.dedent(
        """
        class Messages:
            def create(self, **kwargs): ...

        class AsyncMessages:
            async def create(self, **kwargs): ...
        """
    ),
    "anthropic/resources/beta/__init__.py": "",
    "anthropic/resources/beta/messages/__init__.py": "",
    "anthropic/resources/beta/messages/messages.py": textwrap.dedent(
        """
        class Messages:
            def create(self, **kwargs): ...
        """
    ),
}

APP = textwrap.dedent(
    """
    import logging
    logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
    from opentelemetry.sdk.trace import TracerProvider
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=TracerProvider(), skip_dep_check=True)
    """
)


def test_an_unknown_layout_gets_one_warning_naming_the_version(tmp_path: Path) -> None:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", APP],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING tokentrail")]
    assert len(warnings) == 1, done.stderr
    assert "anthropic 0.40.0 is not supported" in warnings[0]
    assert ">= 0.41" in warnings[0]


def test_the_supported_sdk_gets_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    instrumentor = AnthropicInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        instrumentor.instrument(tracer_provider=TracerProvider())
    try:
        assert instrumentor.is_instrumented_by_opentelemetry
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        instrumentor.uninstrument()
