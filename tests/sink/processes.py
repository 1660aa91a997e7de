"""A sink in a subprocess (`python -m tokentrail.sink`), for tests of the command and of the process itself."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx


@contextlib.contextmanager
def sink_process(*args: str, env: dict[str, str] | None = None, ready_within: float = 60) -> Iterator[SinkProcess]:
    """`python -m tokentrail.sink ARGS` on a free port, ready (`/readyz` 200); killed if the test leaves it running."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    environment.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "tokentrail.sink", "--port", str(port), *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + ready_within
        while True:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield SinkProcess(process, base)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


class SinkProcess(NamedTuple):
    process: subprocess.Popen[bytes]
    url: str


def status_kib(pid: int) -> dict[str, int]:
    """The `Vm*` lines of /proc/<pid>/status in KiB (VmRSS now, VmHWM the peak since start or `reset_peak`)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in lines) if k.startswith("Vm")}


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh from the current RSS (Linux: 5 > /proc/<pid>/clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
