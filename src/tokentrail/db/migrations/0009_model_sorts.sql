-- tokentrail schema, version 9: the calls of one model in cost, latency or token order (docs/ui.md shows the plans).

-- A model's calls may all come late in one of these orders (the cheapest model's, most expensive first), so a walk
-- of the whole order passes most of the range before it finds them. When no call of the range answered with the
-- model after requesting another (the daily rollup tells), the calls list reads the filter as the requested model
-- and walks these indexes (tokentrail.reports.calllist, `_requested_only`). The expressions are those of
-- tokentrail.reports.calllist.sort_key, as in 0007.
CREATE INDEX llm_calls_model_cost_idx ON llm_calls (request_model, (coalesce(cost_usd, -1)), start_time);
CREATE INDEX llm_calls_model_latency_idx ON llm_calls (request_model, duration_ms, start_time);
CREATE INDEX llm_calls_model_tokens_idx
    ON llm_calls (request_model, (coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), start_time);
