-- tokentrail schema, version 1: every span, typed LLM call rows, content stored once by SHA-256.
-- Time-partitioned by day on start_time; retention drops whole partitions (tokentrail prune).
-- Idempotency: a span is identified by (trace_id, span_id); the partition key start_time is part of the
-- primary key because Postgres requires it, and a retried export carries the same start_time, so a retry
-- hits the same key and is ignored (INSERT ... ON CONFLICT DO NOTHING).

CREATE TABLE spans (
    trace_id            text        NOT NULL,          -- 32 lowercase hex characters
    span_id             text        NOT NULL,          -- 16 lowercase hex characters
    parent_span_id      text,
    start_time          timestamptz NOT NULL,
    end_time            timestamptz NOT NULL,
    duration_ms         double precision NOT NULL,
    name                text        NOT NULL,
    kind                smallint    NOT NULL DEFAULT 0,  -- OTLP SpanKind: 1 internal, 2 server, 3 client, ...
    status_code         smallint    NOT NULL DEFAULT 0,  -- OTLP StatusCode: 0 unset, 1 ok, 2 error
    status_message      text,
    service_name        text,
    scope_name          text,
    scope_version       text,
    attributes          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    resource_attributes jsonb       NOT NULL DEFAULT '{}'::jsonb,
    events              jsonb,
    is_llm              boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (trace_id, span_id, start_time)
) PARTITION BY RANGE (start_time);

CREATE INDEX spans_trace_idx ON spans (trace_id);

CREATE TABLE content_blobs (
    sha256      bytea       PRIMARY KEY,               -- SHA-256 of the UTF-8 body
    body        text        NOT NULL,
    bytes       integer     NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE llm_calls (
    trace_id               text        NOT NULL,
    span_id                text        NOT NULL,
    parent_span_id         text,
    start_time             timestamptz NOT NULL,
    duration_ms            double precision NOT NULL,
    time_to_first_chunk_ms double precision,
    service_name           text,
    source                 text        NOT NULL,       -- tokentrail, anthropic-sdk, openllmetry, openinference, otel-genai, openlit, logfire
    operation              text        NOT NULL,       -- chat, count_tokens, batch.create, ...
    provider               text,
    request_model          text,
    response_model         text,
    streaming              boolean,
    status                 text        NOT NULL,       -- ok | error
    error_type             text,
    error_message          text,                       -- truncated to 1000 characters
    input_tokens           bigint,                     -- including cache read and cache write, as on the span
    output_tokens          bigint,
    cache_read_tokens      bigint,
    cache_write_tokens     bigint,
    reasoning_tokens       bigint,
    cost_usd               numeric(20, 10),
    cost_source            text,
    finish_reasons         text[],
    response_id            text,
    user_id                text,
    session_id             text,
    conversation_id        text,
    tags                   text[],
    prompt_name            text,
    prompt_version         text,
    workflow_name          text,
    system_sha256          bytea REFERENCES content_blobs (sha256),
    input_sha256           bytea REFERENCES content_blobs (sha256),
    output_sha256          bytea REFERENCES content_blobs (sha256),
    tools_sha256           bytea REFERENCES content_blobs (sha256),
    content_truncated      boolean     NOT NULL DEFAULT false,
    attributes             jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- every attribute not in a column above
    PRIMARY KEY (trace_id, span_id, start_time)
) PARTITION BY RANGE (start_time);

CREATE INDEX llm_calls_start_idx ON llm_calls (start_time);
CREATE INDEX llm_calls_trace_idx ON llm_calls (trace_id);
CREATE INDEX llm_calls_user_idx ON llm_calls (user_id, start_time) WHERE user_id IS NOT NULL;

-- Creates the daily partitions of spans and llm_calls for `day` if they do not exist yet.
CREATE FUNCTION tokentrail_ensure_partitions(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    suffix text := to_char(day, 'YYYYMMDD');
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['spans', 'llm_calls'] LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            t || '_p' || suffix, t, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
    END LOOP;
END;
$$;
