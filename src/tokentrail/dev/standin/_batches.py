"""Message Batches: an in-memory store that answers like the API (create, list, retrieve, cancel, delete, results).

A new batch is `in_progress`; once `processing_s` has passed (or it is canceled) the next look at it ends it and
every request gets its result: `succeeded` with the default reply, `errored` for params the API would reject,
or `canceled`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tokentrail.dev.standin._replies import build_message, error_body, new_id
from tokentrail.dev.standin._usage import CacheTracker

__all__ = ["Batch", "BatchError", "BatchStore"]

_RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")


class BatchError(Exception):
    """A request the batch API refuses: `status` and the message of its error envelope."""

    def __init__(self, status: int, message: str, error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


@dataclass
class Batch:
    id: str
    created_at: datetime
    ready_at: float
    requests: list[dict[str, Any]]
    beta: bool = False
    results: list[dict[str, Any]] | None = None
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _problem(params: Mapping[str, Any]) -> str | None:
    """Why the API would reject a batch request's params, or None."""
    for name in ("model", "messages", "max_tokens"):
        if name not in params:
            return f"{name}: Field required"
    if not isinstance(params["messages"], list):
        return "messages: Input should be a valid list"
    if not isinstance(params["max_tokens"], int) or params["max_tokens"] < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    if params.get("stream"):
        return "stream: streaming is not supported in message batches"
    return None


class BatchStore:
    """Thread-safe; keeps the newest `capacity` batches."""

    def __init__(self, cache: CacheTracker, capacity: int = 1000) -> None:
        self._cache = cache
        self._capacity = capacity
        self._batches: OrderedDict[str, Batch] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._batches.clear()

    def create(self, body: Mapping[str, Any], *, processing_s: float, beta: bool) -> Batch:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise BatchError(400, "requests: List should have at least 1 item after validation")
        seen: set[str] = set()
        for item in requests:
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not isinstance(item.get("params"), dict):
                raise BatchError(400, "requests: every request needs a custom_id and params")
            if custom_id in seen:
                raise BatchError(400, f"requests: custom_id {custom_id!r} is used more than once")
            seen.add(custom_id)
        batch = Batch(
            id=new_id("msgbatch_"),
            created_at=datetime.now(timezone.utc),
            ready_at=time.monotonic() + processing_s,
            requests=requests,
            beta=beta,
        )
        with self._lock:
            self._batches[batch.id] = batch
            while len(self._batches) > self._capacity:
                self._batches.popitem(last=False)
        return batch

    def get(self, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise BatchError(404, f"message batch {batch_id!r} not found", "not_found_error")
        self._advance(batch)
        return batch

    def newest_first(self) -> list[Batch]:
        with self._lock:
            batches = list(reversed(self._batches.values()))
        for batch in batches:
            self._advance(batch)
        return batches

    def cancel(self, batch_id: str) -> Batch:
        batch = self.get(batch_id)
        with self._lock:
            if batch.results is None and batch.cancel_initiated_at is None:
                batch.cancel_initiated_at = datetime.now(timezone.utc)
        return batch

    def delete(self, batch_id: str) -> None:
        batch = self.get(batch_id)
        if batch.results is None:
            raise BatchError(400, "message batch is still processing; cancel it before deleting it")
        with self._lock:
            self._batches.pop(batch_id, None)

    def results(self, batch_id: str) -> list[dict[str, Any]]:
        batch = self.get(batch_id)
        if batch.results is None:
            raise BatchError(400, "message batch is still processing; its results are not available yet")
        return batch.results

    def _advance(self, batch: Batch) -> None:
        """End `batch` if its time has come (or it was canceled): every request gets its result."""
        with self._lock:
            if batch.results is not None:
                return
            canceled = batch.cancel_initiated_at is not None
            if not canceled and time.monotonic() < batch.ready_at:
                return
            results: list[dict[str, Any]] = []
            for item in batch.requests:
                params: dict[str, Any] = item["params"]
                result: dict[str, Any]
                problem = None if canceled else _problem(params)
                if canceled:
                    result = {"type": "canceled"}
                elif problem is not None:
                    result = {"type": "errored", "error": error_body("invalid_request_error", problem, new_id("req_"))}
                else:
                    message = build_message(params, None, model=str(params["model"]), cache=self._cache)
                    result = {"type": "succeeded", "message": message}
                results.append({"custom_id": item["custom_id"], "result": result})
            batch.results = results
            batch.ended_at = datetime.now(timezone.utc)

    @staticmethod
    def to_json(batch: Batch, base_url: str) -> dict[str, Any]:
        """The MessageBatch object; `results_url` points at `base_url` once the batch has ended."""
        counts = dict.fromkeys(("processing", *_RESULT_TYPES), 0)
        results_url = None
        if batch.results is None:
            counts["processing"] = len(batch.requests)
            status = "canceling" if batch.cancel_initiated_at else "in_progress"
        else:
            for line in batch.results:
                counts[line["result"]["type"]] += 1
            status = "ended"
            results_url = f"{base_url}/v1/messages/batches/{batch.id}/results" + ("?beta=true" if batch.beta else "")
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "ended_at": _iso(batch.ended_at),
            "created_at": _iso(batch.created_at),
            "expires_at": _iso(batch.created_at + timedelta(hours=24)),
            "archived_at": None,
            "cancel_initiated_at": _iso(batch.cancel_initiated_at),
            "results_url": results_url,
        }
