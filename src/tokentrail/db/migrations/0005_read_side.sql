-- tokentrail schema, version 5: what the read side asks of a call beyond tokens and cost. docs/schema.md,
-- "Questions and their commands", lists each question with its query.

-- The application's own kind of call (tokentrail.call_type), the tools the response asked for (names and ids,
-- index for index, recorded whatever the content policy) and the HTTP attempts the SDK made (NULL: one, or not
-- known). llm_call_reports holds the same columns as llm_calls (its rows are merged into llm_calls).
ALTER TABLE llm_calls ADD COLUMN call_type text;
ALTER TABLE llm_calls ADD COLUMN tool_names text[];
ALTER TABLE llm_calls ADD COLUMN tool_call_ids text[];
ALTER TABLE llm_calls ADD COLUMN attempts integer;
ALTER TABLE llm_call_reports ADD COLUMN call_type text;
ALTER TABLE llm_call_reports ADD COLUMN tool_names text[];
ALTER TABLE llm_call_reports ADD COLUMN tool_call_ids text[];
ALTER TABLE llm_call_reports ADD COLUMN attempts integer;

-- Token counting is free: calls of count_tokens that an earlier sink priced lose that price.
UPDATE llm_calls SET cost_usd = NULL, cost_source = NULL WHERE operation = 'count_tokens' AND cost_usd IS NOT NULL;
UPDATE llm_call_reports SET cost_usd = NULL, cost_source = NULL
WHERE operation = 'count_tokens' AND cost_usd IS NOT NULL;

-- The filters and groupings the CLI and the web UI offer, each with an index that serves it within a time range.
CREATE INDEX llm_calls_session_idx ON llm_calls (session_id, start_time) WHERE session_id IS NOT NULL;
CREATE INDEX llm_calls_workflow_idx ON llm_calls (workflow_name, start_time) WHERE workflow_name IS NOT NULL;
CREATE INDEX llm_calls_prompt_idx ON llm_calls (prompt_name, prompt_version, start_time) WHERE prompt_name IS NOT NULL;
CREATE INDEX llm_calls_error_idx ON llm_calls (error_type, start_time) WHERE status = 'error';
CREATE INDEX llm_calls_tools_idx ON llm_calls USING gin (tool_names) WHERE tool_names IS NOT NULL;
CREATE INDEX llm_calls_attributes_idx ON llm_calls USING gin (attributes jsonb_path_ops);

-- Token counting (count_tokens) is free and is reported apart: the cost and token views below leave it out, and
-- llm_token_counts_daily shows it.
DROP VIEW llm_daily_cost;
DROP VIEW llm_cost_by_user;
DROP VIEW llm_cache_daily;

CREATE VIEW llm_daily_cost AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date       AS day,
    coalesce(c.request_model, c.response_model)   AS request_model,
    count(*)                                      AS calls,
    coalesce(sum(c.input_tokens), 0)              AS input_tokens,
    coalesce(sum(c.output_tokens), 0)             AS output_tokens,
    coalesce(sum(c.cost_usd), 0)::numeric(38, 10) AS cost_usd
FROM llm_calls AS c
WHERE c.operation <> 'count_tokens'
GROUP BY 1, 2;

COMMENT ON VIEW llm_daily_cost IS
    'Calls, tokens and cost in USD per UTC day and model. input_tokens includes cache reads and writes. '
    'Token counting (count_tokens) is free and left out: see llm_token_counts_daily.';

CREATE VIEW llm_cost_by_user AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date       AS day,
    c.user_id                                     AS user_id,
    count(*)                                      AS calls,
    coalesce(sum(c.input_tokens), 0)              AS input_tokens,
    coalesce(sum(c.output_tokens), 0)             AS output_tokens,
    coalesce(sum(c.cost_usd), 0)::numeric(38, 10) AS cost_usd
FROM llm_calls AS c
WHERE c.operation <> 'count_tokens'
GROUP BY 1, 2;

COMMENT ON VIEW llm_cost_by_user IS
    'Calls, tokens and cost in USD per UTC day and user.id (NULL: calls made without a user). Token counting '
    '(count_tokens) is left out.';

CREATE VIEW llm_cache_daily AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date                                     AS day,
    coalesce(c.request_model, c.response_model)                                 AS request_model,
    count(*)                                                                    AS calls,
    coalesce(sum(c.input_tokens), 0)                                            AS input_tokens,
    coalesce(sum(c.cache_read_tokens), 0)                                       AS cache_read_tokens,
    coalesce(sum(c.cache_write_tokens), 0)                                      AS cache_write_tokens,
    sum(c.cache_read_tokens)::double precision / nullif(sum(c.input_tokens), 0) AS cache_hit_ratio
FROM llm_calls AS c
WHERE c.operation <> 'count_tokens'
GROUP BY 1, 2;

COMMENT ON VIEW llm_cache_daily IS
    'Prompt caching per UTC day and model: cache_hit_ratio = cache_read_tokens / input_tokens (input_tokens '
    'already includes cache reads and writes); NULL when no input tokens were recorded. Token counting is left out.';

CREATE VIEW llm_token_counts_daily AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date     AS day,
    coalesce(c.request_model, c.response_model) AS request_model,
    count(*)                                    AS calls,
    coalesce(sum(c.input_tokens), 0)            AS counted_tokens
FROM llm_calls AS c
WHERE c.operation = 'count_tokens'
GROUP BY 1, 2;

COMMENT ON VIEW llm_token_counts_daily IS
    'Token counting calls (count_tokens, free of charge) per UTC day and model, and the tokens they counted.';

CREATE VIEW llm_tool_calls AS
SELECT
    c.start_time,
    c.trace_id,
    c.span_id,
    t.ordinal::integer                          AS ordinal,
    t.tool_name,
    t.tool_call_id,
    coalesce(c.request_model, c.response_model) AS request_model,
    c.user_id,
    c.session_id,
    c.workflow_name,
    c.call_type,
    c.service_name,
    c.status
FROM llm_calls AS c
CROSS JOIN LATERAL unnest(c.tool_names, c.tool_call_ids) WITH ORDINALITY AS t(tool_name, tool_call_id, ordinal)
WHERE c.tool_names IS NOT NULL;

COMMENT ON VIEW llm_tool_calls IS
    'One row per tool call a response asked for (tool_use, server_tool_use, mcp_tool_use), in response order '
    '(ordinal from 1), with the call it came from. Recorded whatever the content policy.';

CREATE VIEW llm_retried_calls AS
SELECT
    c.start_time,
    c.trace_id,
    c.span_id,
    coalesce(c.request_model, c.response_model) AS request_model,
    c.attempts,
    c.status,
    c.error_type,
    c.duration_ms,
    c.user_id,
    c.service_name
FROM llm_calls AS c
WHERE c.attempts > 1;

COMMENT ON VIEW llm_retried_calls IS
    'Calls the SDK retried (attempts > 1); each failed attempt is a tokentrail.retry event on the call''s span '
    '(spans.events).';

-- Finding a request's calls by its X-Request-ID: the header as the HTTP server instrumentation captures it
-- (a string array under http.request.header.x_request_id on the SERVER span, kind 2) is indexed there.
CREATE INDEX spans_request_id_idx ON spans USING gin ((attributes -> 'http.request.header.x_request_id'))
WHERE kind = 2 AND attributes ? 'http.request.header.x_request_id';

-- Searching prompt and completion text: a trigram index over the content bodies when pg_trgm can be created
-- (a trusted extension since Postgres 13: the database owner may create it). Without it the search still works,
-- by scanning.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX content_blobs_body_trgm_idx ON content_blobs USING gin (body gin_trgm_ops);
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available: content search scans the bodies';
END;
$$;
