-- tokentrail schema, version 9: the calls list's filters at volume (docs/ui.md, "Speed of these pages", shows the
-- plans). A filter that matches few calls of a range, or none, needs an index to find them: without one, the list
-- tests every call of the range (a second a month at a million calls).

-- One model's calls in cost, latency or token order. A model's calls may all come late in one of these orders (the
-- cheapest model's, most expensive first), so a walk of the whole order passes most of the range before it finds
-- them. When no call of the range answered with the model after requesting another (the daily rollup tells), the
-- calls list reads the filter as the requested model and walks these indexes (tokentrail.reports.calllist,
-- `_requested_only`). The expressions are those of tokentrail.reports.calllist.sort_key, as in 0007.
CREATE INDEX llm_calls_model_cost_idx ON llm_calls (request_model, (coalesce(cost_usd, -1)), start_time);
CREATE INDEX llm_calls_model_latency_idx ON llm_calls (request_model, duration_ms, start_time);
CREATE INDEX llm_calls_model_tokens_idx
    ON llm_calls (request_model, (coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), start_time);

-- The filters that had none (tokentrail.reports.callfilter states each condition so that these serve it; the
-- minimum cost uses 0007's cost index, the minimum latency its latency index).
CREATE INDEX llm_calls_call_type_idx ON llm_calls (call_type, start_time);
CREATE INDEX llm_calls_service_idx ON llm_calls (service_name, start_time);
CREATE INDEX llm_calls_tags_idx ON llm_calls USING gin (tags) WHERE tags IS NOT NULL;
CREATE INDEX llm_calls_retried_idx ON llm_calls (start_time) WHERE attempts > 1;
