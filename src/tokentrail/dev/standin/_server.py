"""The stand-in server: its lifecycle, the scripts queued for the next requests, and what it has recorded."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import OrderedDict, deque
from types import TracebackType

from tokentrail.dev.standin._batches import BatchStore
from tokentrail.dev.standin._handler import Handler
from tokentrail.dev.standin._http import StandinHTTPServer
from tokentrail.dev.standin._recording import RecordedRequest
from tokentrail.dev.standin._scripts import Delay, ErrorReply, Script
from tokentrail.dev.standin._threads import ThreadStore
from tokentrail.dev.standin._usage import CacheTracker

__all__ = ["StandinServer"]

log = logging.getLogger(__name__)


class StandinServer:
    """A local server speaking the Anthropic Messages API wire format (first-party, Bedrock and Vertex paths).

    Use it as a context manager or with `start()` / `stop()`. `enqueue()` scripts the outcomes of the next
    requests (first in, first out); without a script every request gets the default reply derived from it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_s: float = 0.0,
        batch_processing_s: float = 0.0,
        max_recorded: int = 1000,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.latency_s = latency_s
        """Added before every response's first byte (time to first token in streams)."""
        self.batch_processing_s = batch_processing_s
        """How long a new batch stays `in_progress` (it is always `in_progress` in the create response)."""
        self._initial = (latency_s, batch_processing_s)
        self._lock = threading.Lock()
        self._scripts: deque[Script] = deque()
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._failed_once: OrderedDict[str, None] = OrderedDict()
        self.cache = CacheTracker()
        self._batches = BatchStore(self.cache)
        self._threads = ThreadStore()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: StandinHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> StandinServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = StandinHTTPServer((self.host, self._requested_port), self, Handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="tokentrail-standin", daemon=True
        )
        self._thread.start()
        log.debug("stand-in listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving: close idle keep-alive connections, interrupt delays, wait for the handler threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the stand-in server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT`, the `base_url` for `anthropic.Anthropic`, `AnthropicBedrock` and `AnthropicVertex`."""
        return f"http://{self.host}:{self.port}"

    # --- scripting and inspection -------------------------------------------------------------------------
    def enqueue(self, *scripts: Script) -> None:
        """The next requests get these outcomes, in order; after them, the default reply.

        Message endpoints take any script. Other endpoints (count_tokens, batches, models) take only an
        `ErrorReply` (or a `Delay` before one or before the normal answer) and leave other scripts queued.
        """
        with self._lock:
            self._scripts.extend(scripts)

    @property
    def pending(self) -> int:
        """How many scripts are still queued."""
        with self._lock:
            return len(self._scripts)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far (the most recent `max_recorded`), oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget scripts, recorded requests, batches, cached prefixes and held threads; restore the initial latency."""
        with self._lock:
            self._scripts.clear()
            self._requests.clear()
            self._failed_once.clear()
            self.latency_s, self.batch_processing_s = self._initial
        self.cache.clear()
        self._batches.clear()
        self._threads.clear()

    # --- used by the handler ------------------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_script(self, message_endpoint: bool) -> Script | None:
        with self._lock:
            if not self._scripts:
                return None
            head = self._scripts[0]
            if (
                message_endpoint
                or isinstance(head, ErrorReply)
                or (isinstance(head, Delay) and (head.then is None or isinstance(head.then, ErrorReply)))
            ):
                return self._scripts.popleft()
            return None

    def _first_failure(self, key: str) -> bool:
        """True the first time `key` is seen (for `rate_limit_once`)."""
        with self._lock:
            if key in self._failed_once:
                return False
            self._failed_once[key] = None
            if len(self._failed_once) > 10_000:
                self._failed_once.popitem(last=False)
            return True

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if not alive:
                self._connections.discard(conn)
                return
            self._connections.add(conn)
            stopping = self._stopping.is_set()
        if stopping:  # accepted while `stop()` was closing the others: it would not see this one
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
