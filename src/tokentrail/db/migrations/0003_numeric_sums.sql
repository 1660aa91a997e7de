-- tokentrail schema, version 3: the views' token sums are numeric (sum of bigint), no longer cast back to bigint:
-- one absurd count must not make a whole day's row fail with "bigint out of range". The sink refuses impossible
-- counts at the door (docs/schema.md, "Bounds"); this keeps the views answering whatever is already stored.

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
GROUP BY 1, 2;

COMMENT ON VIEW llm_daily_cost IS
    'Calls, tokens and cost in USD per UTC day and model. input_tokens includes cache reads and writes.';

CREATE VIEW llm_cost_by_user AS
SELECT
    (c.start_time AT TIME ZONE 'UTC')::date       AS day,
    c.user_id                                     AS user_id,
    count(*)                                      AS calls,
    coalesce(sum(c.input_tokens), 0)              AS input_tokens,
    coalesce(sum(c.output_tokens), 0)             AS output_tokens,
    coalesce(sum(c.cost_usd), 0)::numeric(38, 10) AS cost_usd
FROM llm_calls AS c
GROUP BY 1, 2;

COMMENT ON VIEW llm_cost_by_user IS
    'Calls, tokens and cost in USD per UTC day and user.id (NULL: calls made without a user).';

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
GROUP BY 1, 2;

COMMENT ON VIEW llm_cache_daily IS
    'Prompt caching per UTC day and model: cache_hit_ratio = cache_read_tokens / input_tokens (input_tokens '
    'already includes cache reads and writes); NULL when no input tokens were recorded.';
