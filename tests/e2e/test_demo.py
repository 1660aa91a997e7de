"""`python -m tokentrail.dev.demo`: the whole pipeline starts, the workload lands in Postgres, the report prints, and
everything the demo started is gone afterwards, also when it is interrupted."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tokentrail.db.embedded import EmbeddedPostgres

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_", "ANTHROPIC_"))}
    return {**env, **extra}


def _started_urls(output: str) -> list[str]:
    """The loopback URLs the demo said it started (sink, stand-in, UI, app, collector, Jaeger)."""
    return re.findall(
        r"^(?:sink|anthropic|collector|jaeger|ui|app)\s.*?(http://127\.0\.0\.1:\d+)", output, re.MULTILINE
    )


def test_demo_runs_the_pipeline_and_prints_the_report(tmp_path: Path) -> None:
    """A fresh data directory: the embedded Postgres is created, used and stopped again."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tokentrail.dev.demo", "--quick", "--no-hold", "--data-dir", str(tmp_path / "demo")],
            cwd=REPO,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        EmbeddedPostgres(tmp_path / "demo").destroy()
    output = result.stdout
    assert result.returncode == 0, f"demo failed:\n{output}\n{result.stderr}"
    # every request's LLM calls arrived, and the report shows both models, the users, the error and a trace tree
    assert re.search(r"^\d+ LLM calls stored", output, re.MULTILINE), output
    assert "$ tokentrail stats --by model" in output
    assert "claude-haiku-4-5" in output
    assert "claude-sonnet-4-6" in output
    assert "$ tokentrail stats --by user" in output
    assert "alice" in output
    assert "overloaded_error" in output  # the scripted failure, listed by `tokentrail calls --status error`
    assert "$ tokentrail trace " in output
    assert "POST /answer" in output  # the trace tree starts at the FastAPI server span
    next_steps = output[output.index("== where to look next") :].splitlines()
    assert re.fullmatch(r"UI:\s+http://127\.0\.0\.1:\d+/traces/[0-9a-f]{32}", next_steps[1]), next_steps
    assert "stopped everything the demo started" in output
    # nothing the demo started is still listening
    urls = _started_urls(output)
    assert len(urls) >= 3, output
    assert not [url for url in urls if _listening(url)]


def test_demo_stops_everything_on_sigterm(tmp_path: Path, database_url: str) -> None:
    """While the demo holds the pipeline open, SIGTERM stops it and every process it started, exit code 130."""
    log = tmp_path / "demo.out"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "tokentrail.dev.demo", "--quick", "--hold", "--data-dir", str(tmp_path / "demo")],
            cwd=REPO,
            env=_env(TOKENTRAIL_DATABASE_URL=database_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "press Ctrl-C to stop" not in log.read_text() and demo.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        output = log.read_text()
        assert "press Ctrl-C to stop" in output, output
        urls = _started_urls(output)
        assert urls, output
        assert all(_listening(url) for url in urls)  # held open
        _check_the_ui_link(output)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(60) == 130
    finally:
        if demo.poll() is None:
            demo.kill()
    assert not [url for url in urls if _listening(url)]
    assert "everything the demo started has been stopped" in log.read_text()


def test_demo_rejects_bad_arguments() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tokentrail.dev.demo", "--timeout", "soon"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--timeout" in result.stderr


def _check_the_ui_link(output: str) -> None:
    """The UI the demo printed first under "where to look next" serves the run: its overview counts the stored
    calls, and the printed trace's calls are listed."""
    import httpx

    link = re.search(r"^UI:\s+(http://127\.0\.0\.1:\d+)/traces/([0-9a-f]{32})$", output, re.MULTILINE)
    assert link, output
    base, trace_id = link.groups()
    overview = httpx.get(base + "/?range=1h", timeout=30)
    assert overview.status_code == 200
    assert re.search(r'id="total-calls">[1-9]', overview.text)
    calls = httpx.get(base + "/calls", params={"trace_id": trace_id, "range": "1h"}, timeout=30)
    assert calls.status_code == 200
    assert f"/traces/{trace_id}?span=" in calls.text


def _listening(url: str) -> bool:
    """Whether anything still accepts connections at `url`."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0
