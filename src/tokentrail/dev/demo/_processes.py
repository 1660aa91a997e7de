"""Process supervision: child processes in their own process groups, stopped in order; polling helpers."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tokentrail.errors import DemoError

__all__ = ["Service", "Supervisor", "console_script", "free_port", "http_ok", "listening_url", "wait_until"]

_LISTENING = re.compile(r"listening on (http://[\w.:\[\]-]+)")


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


def console_script(name: str) -> str:
    """A console script installed next to this Python (the virtual environment's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise DemoError(f"`{name}` is not installed: run `make setup` (it installs tokentrail with its extras)")
    return found
