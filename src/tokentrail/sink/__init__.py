"""The tokentrail sink: receives OTLP traces and stores every span, and every LLM call as a typed row, in Postgres.

Modules: `server` (the service and `main`), `decode` (OTLP/HTTP bodies), `normalise` (spans -> rows),
`store` (batched idempotent writes), `migrate` (schema migrations), `metrics`, `embedded` (a private Postgres),
`peers` (other instrumentations' conventions, one module per source). Needs the `sink` extra:
`pip install 'tokentrail[sink]'`.
"""
