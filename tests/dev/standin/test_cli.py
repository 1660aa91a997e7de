"""`python -m tokentrail.dev.standin`: prints its address, serves, and exits cleanly on SIGTERM / SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from tokentrail.dev.standin import main


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_signalled(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tokentrail.dev.standin", "--host", "127.0.0.1", "--port", "0", "--latency-ms", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        base_url = line.removeprefix("listening on ")
        body = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
        response = httpx.post(f"{base_url}/v1/messages", json=body, headers=headers)
        assert response.status_code == 200
        assert response.json()["type"] == "message"
        process.send_signal(sig)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_rejects_negative_latency(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--latency-ms", "-5"]) == 2
    assert "must not be negative" in capsys.readouterr().err


def test_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    from tokentrail.dev.standin import StandinServer

    with StandinServer() as server:
        assert main(["--port", str(server.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
