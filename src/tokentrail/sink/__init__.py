"""The tokentrail sink: receives OTLP traces and stores every span, and every LLM call as a typed row, in Postgres.

Modules, top down: `main` (the command line: `tokentrail sink`, `python -m tokentrail.sink`) and `background`
(a sink in a thread, for tests and the demo) over `service` (socket, uvicorn, gRPC, drain) over `http` (the
OTLP/HTTP app and body reading) and `grpc` (the OTLP/gRPC service) over `pipeline` (admission, decode ->
normalise -> store, outcomes) over `config` (`SinkConfig`), `settings` (the environment), `metrics`, `decode`
(OTLP bodies) and `normalise` (spans -> rows, with `peers`, one module per other instrumentation, and `values`).
The rows are written by `tokentrail.db.store`. Needs the `sink` extra: `pip install 'tokentrail[sink]'`.
"""
