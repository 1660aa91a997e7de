"""The stand-in's API: one request from its path and headers to its answer (validation, scripts, scenarios, the
message, count_tokens, batches and models endpoints)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

from tokentrail.dev.standin._batches import BatchError
from tokentrail.dev.standin._http import Abort, Transport
from tokentrail.dev.standin._openai import completion, completion_frames, validate
from tokentrail.dev.standin._platforms import (
    FOUNDRY_PREFIX,
    bedrock_frames,
    bedrock_model,
    bedrock_usage_headers,
    flavour_of,
    vertex_model,
)
from tokentrail.dev.standin._recording import RecordedRequest
from tokentrail.dev.standin._replies import build_message, error_body, new_id
from tokentrail.dev.standin._scenarios import extra_latency_s, scenario_error, scenarios_of
from tokentrail.dev.standin._scripts import ERROR_TYPES, Delay, ErrorReply, StreamCut, StreamError
from tokentrail.dev.standin._sse import sse, stream_events
from tokentrail.dev.standin._threads import ThreadRejected
from tokentrail.dev.standin._usage import estimate_input_tokens

__all__ = ["Handler"]

log = logging.getLogger(__name__)

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ERROR_STATUS = {error_type: status for status, error_type in ERROR_TYPES.items() if status != 504}
_MESSAGES_ROUTE = re.compile(r"^/v1/messages/?$")
_COUNT_ROUTE = re.compile(r"^/v1/messages/count_tokens/?$")
_BATCHES_ROUTE = re.compile(r"^/v1/messages/batches/?$")
_BATCH_ROUTE = re.compile(r"^/v1/messages/batches/(?P<id>[^/]+)(?P<action>/results|/cancel)?/?$")
_CHAT_COMPLETIONS_ROUTE = re.compile(r"^/v1/chat/completions/?$")
_MODELS_ROUTE = re.compile(r"^/v1/models(?:/(?P<id>[^/]+))?/?$")
_BEDROCK_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>invoke|invoke-with-response-stream)/?$")
_VERTEX_ROUTE = re.compile(
    r"^(?:/v1(?:beta1)?)?/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)"
    r"/publishers/anthropic/models/(?P<model>[^/:]+):(?P<op>rawPredict|streamRawPredict)/?$"
)
_MODELS = (
    ("claude-opus-4-6", "Claude Opus 4.6"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
)


class Handler(Transport):
    """Routes each request to its endpoint, after recording it and applying the latency and scenario headers."""

    # --- one request --------------------------------------------------------------------------------------
    def _exchange(self) -> None:
        self.request_id = new_id("req_")
        self._sent = False
        self._latency_done = False
        self._started = time.monotonic()
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.flavour = flavour_of(path)
        if self.flavour == "bedrock":
            self.request_id = str(uuid.uuid4())
        self.latency_s = self.standin.latency_s
        body: Any = None
        try:
            raw = self._read_body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.standin._record(RecordedRequest(self.command, path, split.query, headers, None, self.flavour))
                    raise Abort(400, "There was an error parsing the body of your request as JSON.") from None
            self.standin._record(RecordedRequest(self.command, path, split.query, headers, body, self.flavour))
            self.latency_s += extra_latency_s(headers)
            self._route(self.command, split.path, headers, body)
        except Abort as abort:
            if not self._sent:
                self._send_error(abort.reply)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception:
            log.exception("stand-in: internal error on %s %s", self.command, self.path)
            self.close_connection = True
            if not self._sent:
                with contextlib.suppress(OSError):
                    self._send_error(ErrorReply(500, message="stand-in internal error", retry_after_ms=None))

    def _route(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> None:
        if method == "POST" and _CHAT_COMPLETIONS_ROUTE.match(path):
            self._chat_completions(body)
            return
        if self.flavour == "foundry":
            path = path.removeprefix(FOUNDRY_PREFIX)  # then the first-party API, without batches and models
            if not (_MESSAGES_ROUTE.match(path) or _COUNT_ROUTE.match(path)):
                raise Abort(404, f"{method} {FOUNDRY_PREFIX}{path} not found", "not_found_error")
        if self.flavour in ("anthropic", "foundry") and path.startswith("/v1/"):
            self._check_first_party(headers)
        if method == "POST" and _MESSAGES_ROUTE.match(path):
            params = self._params(body)
            self._messages(params, headers, str(params["model"]), bool(params.get("stream")), "msg_")
            return
        if method == "POST" and _COUNT_ROUTE.match(path):
            self._count_tokens(self._params(body, count=True), headers)
            return
        if match := _BEDROCK_ROUTE.match(path):
            if method != "POST":
                raise Abort(404, f"{method} {path} not found", "not_found_error")
            params = self._params(body, model_in_path=True)
            name = bedrock_model(match["model"])
            self._messages(params, headers, name, match["op"] == "invoke-with-response-stream", "msg_bdrk_")
            return
        if match := _VERTEX_ROUTE.match(path):
            if method != "POST":
                raise Abort(404, f"{method} {path} not found", "not_found_error")
            if match["model"] == "count-tokens":
                self._count_tokens(self._params(body, count=True), headers)
                return
            params = self._params(body, model_in_path=True)
            name = vertex_model(match["model"])
            streaming = match["op"] == "streamRawPredict" or bool(params.get("stream"))
            self._messages(params, headers, name, streaming, "msg_vrtx_")
            return
        if _BATCHES_ROUTE.match(path) and method in ("POST", "GET"):
            if not self._scripted_other(headers):
                self._batches(method, None, None, body, headers)
            return
        if match := _BATCH_ROUTE.match(path):
            action = match["action"]
            if (method, action) in (("GET", None), ("GET", "/results"), ("POST", "/cancel"), ("DELETE", None)):
                if not self._scripted_other(headers):
                    self._batches(method, urllib.parse.unquote(match["id"]), action, body, headers)
                return
        if (match := _MODELS_ROUTE.match(path)) and method == "GET":
            if not self._scripted_other(headers):
                self._models(urllib.parse.unquote(match["id"]) if match["id"] else None)
            return
        raise Abort(404, f"{method} {path} not found", "not_found_error")

    # --- validation ---------------------------------------------------------------------------------------
    def _check_first_party(self, headers: Mapping[str, str]) -> None:
        if self.flavour == "foundry":
            if not (headers.get("api-key") or headers.get("authorization", "").startswith("Bearer ")):
                raise Abort(401, "api-key header or a bearer token is required", "authentication_error")
        elif not (headers.get("x-api-key") or headers.get("authorization")):
            raise Abort(401, "x-api-key header is required", "authentication_error")
        version = headers.get("anthropic-version")
        if version is None:
            raise Abort(400, "anthropic-version: header is required")
        if not _API_VERSION.match(version):
            raise Abort(400, f"anthropic-version: invalid version {version!r}")

    @staticmethod
    def _object(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Abort(400, "The request body must be a JSON object.")
        return body

    def _params(self, body: Any, count: bool = False, model_in_path: bool = False) -> dict[str, Any]:
        """The request's params, checked as the API checks them (400 invalid_request_error otherwise)."""
        params = self._object(body)
        required = ("messages",) if count else ("messages", "max_tokens")
        if not model_in_path:
            required = ("model", *required)
        for name in required:
            if name not in params:
                raise Abort(400, f"{name}: Field required")
        if not isinstance(params["messages"], list):
            raise Abort(400, "messages: Input should be a valid list")
        if not count and (not isinstance(params["max_tokens"], int) or params["max_tokens"] < 1):
            raise Abort(400, "max_tokens: Input should be greater than or equal to 1")
        return params

    def _scenario_error(self, scenarios: frozenset[str], headers: Mapping[str, str], body: Any) -> ErrorReply | None:
        """The error an error scenario asks for, if any (`rate_limit_once` remembered by the server)."""
        return scenario_error(scenarios, headers, body, self.path, self.standin._first_failure)

    def _scripted_other(self, headers: Mapping[str, str]) -> bool:
        """Apply a queued error/delay script or an error scenario to a non-message endpoint; True if answered."""
        scenarios = scenarios_of(headers)
        script = self.standin._take_script(message_endpoint=False)
        while isinstance(script, Delay):
            self.standin._sleep(script.seconds)
            script = script.then
        if script is None:
            script = self._scenario_error(scenarios, headers, None)
        if isinstance(script, ErrorReply):
            self._send_error(script)
            return True
        return False

    # --- endpoints ----------------------------------------------------------------------------------------
    def _messages(
        self, params: dict[str, Any], headers: Mapping[str, str], model: str, stream: bool, prefix: str
    ) -> None:
        scenarios = scenarios_of(headers)
        script = self.standin._take_script(message_endpoint=True)
        while isinstance(script, Delay):
            self.standin._sleep(script.seconds)
            script = script.then
        if script is None:
            script = self._scenario_error(scenarios, headers, params)
        if script is None and stream and "stream_error" in scenarios:
            script = StreamError()
        elif script is None and stream and "stream_cut" in scenarios:
            script = StreamCut()
        if isinstance(script, ErrorReply):
            self._send_error(script)
            return
        if isinstance(script, StreamError) and not stream:
            status = _ERROR_STATUS.get(script.error_type, 500)
            self._send_error(ErrorReply(status, error_type=script.error_type, message=script.text))
            return
        reply = script.reply if isinstance(script, (StreamCut, StreamError)) else script
        answered = params
        if self.flavour in ("anthropic", "foundry"):
            try:
                answered = self.standin._threads.resolve(params, headers)
            except ThreadRejected as rejected:
                raise Abort(rejected.status, str(rejected), rejected.error_type, rejected.details) from None
        message = build_message(
            answered, reply, model=model, id_prefix=prefix, scenarios=scenarios, cache=self.standin.cache
        )
        if not isinstance(script, (StreamCut, StreamError)):  # the server holds a whole reply or none of it
            self.standin._threads.hold(answered, message)
        extra = dict(reply.headers) if reply is not None else {}
        interval = reply.event_interval_s if reply is not None else 0.0
        if not stream:
            if self.flavour == "bedrock":
                bedrock_usage_headers(extra, message["usage"], self._elapsed_ms())
            if isinstance(script, StreamCut):
                body = json.dumps(message).encode()
                self._wait_latency()
                self.close_connection = True
                self.wfile.write(self._head(200, "application/json", extra, len(body)) + body[: len(body) // 2])
                self._sent = True
                return
            self._send_json(200, message, extra)
            return
        events = stream_events(message, reply.delta_chars if reply is not None else None)
        cut = isinstance(script, StreamCut)
        if isinstance(script, (StreamCut, StreamError)):
            events = events[: max(0, script.after_events)]
        if self.flavour == "bedrock":
            error = script if isinstance(script, StreamError) else None
            frames = bedrock_frames(events, message["usage"], self._elapsed_ms, error)
            self._send_stream(frames, "application/vnd.amazon.eventstream", interval, cut, extra)
            return
        frames = [sse(name, data) for name, data in events]
        if isinstance(script, StreamError):
            frames.append(sse("error", error_body(script.error_type, script.text, self.request_id)))
        extra.setdefault("cache-control", "no-cache")
        self._send_stream(frames, "text/event-stream; charset=utf-8", interval, cut, extra)

    def _chat_completions(self, body: Any) -> None:
        """The OpenAI-compatible endpoint (`_openai`): no scripts or scenarios."""
        problem = validate(body)
        if problem is not None:
            raise Abort(400, problem)
        if body.get("stream"):
            self._send_stream(completion_frames(body), "text/event-stream; charset=utf-8", 0.0, False, {})
        else:
            self._send_json(200, completion(body))

    def _count_tokens(self, params: dict[str, Any], headers: Mapping[str, str]) -> None:
        if not self._scripted_other(headers):
            self._send_json(200, {"input_tokens": estimate_input_tokens(params)})

    # --- batches ------------------------------------------------------------------------------------------
    def _batches(
        self, method: str, batch_id: str | None, action: str | None, body: Any, headers: Mapping[str, str]
    ) -> None:
        store = self.standin._batches
        base_url = self.standin.base_url
        try:
            if batch_id is None and method == "POST":
                beta = "beta=true" in self.path or "anthropic-beta" in headers
                batch = store.create(self._object(body), processing_s=self.standin.batch_processing_s, beta=beta)
                self._send_json(200, store.to_json(batch, base_url))
            elif batch_id is None:
                data = [store.to_json(batch, base_url) for batch in store.newest_first()]
                first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
                self._send_json(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
            elif method == "DELETE":
                store.delete(batch_id)
                self._send_json(200, {"id": batch_id, "type": "message_batch_deleted"})
            elif action == "/cancel":
                self._send_json(200, store.to_json(store.cancel(batch_id), base_url))
            elif action == "/results":
                lines = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in store.results(batch_id))
                self._send(200, lines.encode(), "application/x-jsonl")
            else:
                self._send_json(200, store.to_json(store.get(batch_id), base_url))
        except BatchError as exc:
            raise Abort(exc.status, str(exc), exc.error_type) from None

    def _models(self, model_id: str | None) -> None:
        created = "2025-09-29T00:00:00Z"
        models = [{"type": "model", "id": mid, "display_name": name, "created_at": created} for mid, name in _MODELS]
        if model_id is None:
            self._send_json(
                200, {"data": models, "has_more": False, "first_id": models[0]["id"], "last_id": models[-1]["id"]}
            )
            return
        for model in models:
            if model["id"] == model_id:
                self._send_json(200, model)
                return
        raise Abort(404, f"model: {model_id}", "not_found_error")
