-- tokentrail schema, version 2: read-only views over llm_calls for dashboards (Grafana) and plain SQL users.
-- Days are UTC calendar days. The model of a call is the model asked for (request_model), falling back to
-- the model that answered when the request did not name one. The views aggregate all rows; filter on `day`
-- (or query llm_calls directly with a start_time range, which prunes partitions) for large histories.

CREATE VIEW llm_daily_cost AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date           AS day,
    coalesce(c.request_model, c.response_model)        AS request_model,
    count(*)                                           AS calls,
    coalesce(sum(c.input_tokens), 0)::bigint           AS input_tokens,
    coalesce(sum(c.output_tokens), 0)::bigint          AS output_tokens,
    coalesce(sum(c.cost_usd), 0)::numeric(20, 10)      AS cost_usd
FROM llm_calls AS c
GROUP BY 1, 2;

COMMENT ON VIEW llm_daily_cost IS
    'Calls, tokens and cost in USD per UTC day and model. input_tokens includes cache reads and writes.';

CREATE VIEW llm_cost_by_user AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date           AS day,
    c.user_id                                          AS user_id,
    count(*)                                           AS calls,
    coalesce(sum(c.input_tokens), 0)::bigint           AS input_tokens,
    coalesce(sum(c.output_tokens), 0)::bigint          AS output_tokens,
    coalesce(sum(c.cost_usd), 0)::numeric(20, 10)      AS cost_usd
FROM llm_calls AS c
GROUP BY 1, 2;

COMMENT ON VIEW llm_cost_by_user IS
    'Calls, tokens and cost in USD per UTC day and user.id (NULL: calls made without a user).';

CREATE VIEW llm_latency_by_model AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date                                   AS day,
    coalesce(c.request_model, c.response_model)                                AS request_model,
    count(*)                                                                   AS calls,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms)                AS p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms)                AS p95_ms,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY c.duration_ms)                AS p99_ms,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms)     AS ttfc_p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms)     AS ttfc_p95_ms
FROM llm_calls AS c
GROUP BY 1, 2;

COMMENT ON VIEW llm_latency_by_model IS
    'Call latency percentiles (p50/p95/p99, continuous) and time-to-first-chunk percentiles in milliseconds '
    'per UTC day and model. Time to first chunk covers streaming calls only (NULL when a day had none).';

CREATE VIEW llm_errors_daily AS
SELECT day, request_model, error_type, errors, calls, errors::double precision / calls AS error_rate
FROM (
    SELECT
        (c.start_time AT TIME ZONE 'UTC')::date                                            AS day,
        coalesce(c.request_model, c.response_model)                                         AS request_model,
        CASE WHEN c.status = 'error' THEN coalesce(c.error_type, 'unknown') END              AS error_type,
        count(*)                                                                            AS errors,
        sum(count(*)) OVER (PARTITION BY (c.start_time AT TIME ZONE 'UTC')::date,
                                         coalesce(c.request_model, c.response_model))::bigint AS calls
    FROM llm_calls AS c
    GROUP BY 1, 2, 3
) AS per_type
WHERE error_type IS NOT NULL;

COMMENT ON VIEW llm_errors_daily IS
    'Failed calls per UTC day, model and error.type (''unknown'' when the span had none). calls is every call '
    'of that day and model, error_rate = errors / calls. Days and models without errors have no rows.';

CREATE VIEW llm_cache_daily AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date                                  AS day,
    coalesce(c.request_model, c.response_model)                               AS request_model,
    count(*)                                                                  AS calls,
    coalesce(sum(c.input_tokens), 0)::bigint                                  AS input_tokens,
    coalesce(sum(c.cache_read_tokens), 0)::bigint                             AS cache_read_tokens,
    coalesce(sum(c.cache_write_tokens), 0)::bigint                            AS cache_write_tokens,
    sum(c.cache_read_tokens)::double precision / nullif(sum(c.input_tokens), 0) AS cache_hit_ratio
FROM llm_calls AS c
GROUP BY 1, 2;

COMMENT ON VIEW llm_cache_daily IS
    'Prompt caching per UTC day and model: cache_hit_ratio = cache_read_tokens / input_tokens (input_tokens '
    'already includes cache reads and writes); NULL when no input tokens were recorded.';

CREATE VIEW llm_prompt_versions AS
SELECT
    c.prompt_name                                                            AS prompt_name,
    c.prompt_version                                                         AS prompt_version,
    min(c.start_time)                                                        AS first_seen,
    max(c.start_time)                                                        AS last_seen,
    count(*)                                                                 AS calls,
    avg((c.status = 'ok')::int)::double precision                            AS success_rate,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms)              AS p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms)              AS p95_ms,
    avg(c.cost_usd)                                                          AS mean_cost_usd,
    avg(c.output_tokens)::double precision                                   AS mean_output_tokens
FROM llm_calls AS c
WHERE c.prompt_name IS NOT NULL
GROUP BY 1, 2;

COMMENT ON VIEW llm_prompt_versions IS
    'A/B view of prompt versions (tokentrail.prompt.name / .version): calls, success rate, latency p50/p95 in '
    'milliseconds, mean cost in USD and mean output tokens over all stored calls of each version.';
