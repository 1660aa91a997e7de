-- tokentrail schema, version 7: the calls list at volume. docs/ui.md, "Speed of these pages", shows the plans.

-- Each sort of the calls list walks an index in its order within the time range and stops after the page (no
-- sort of the whole range). The expressions are those of tokentrail.reports.queries.order_by: a call without a
-- cost sorts as -1 (costs are never negative), tokens are input + output. Sorting by time uses llm_calls_start_idx.
CREATE INDEX llm_calls_cost_idx ON llm_calls ((coalesce(cost_usd, -1)), start_time);
CREATE INDEX llm_calls_latency_idx ON llm_calls (duration_ms, start_time);
CREATE INDEX llm_calls_tokens_idx ON llm_calls ((coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), start_time);
-- Failed calls in cost order (most have no cost, so in the whole list they all come last): the walk of "errors by
-- cost" reads only them.
CREATE INDEX llm_calls_error_cost_idx ON llm_calls ((coalesce(cost_usd, -1)), start_time) WHERE status = 'error';

-- The model filter (requested or answering model), alone or with a status, within a time range: a BitmapOr of
-- the two, so that "opus errors" reads only the rows it counts.
CREATE INDEX llm_calls_model_idx ON llm_calls (request_model, status, start_time);
CREATE INDEX llm_calls_response_model_idx ON llm_calls (response_model, status, start_time);
