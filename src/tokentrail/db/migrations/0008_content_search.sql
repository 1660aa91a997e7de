-- tokentrail schema, version 8: text search over the calls' stored content at volume (docs/ui.md shows the plans).

-- A search first finds the content bodies holding the text (content_blobs_body_trgm_idx), then the calls that
-- carry one of them as their system instructions, prompt or completion (tokentrail.reports.callfilter,
-- resolve_search): these indexes serve that second step, so a rare text's calls are read directly instead of
-- testing every call of the range. They also serve the foreign keys' checks when a body is deleted.
CREATE INDEX llm_calls_input_sha256_idx ON llm_calls (input_sha256);
CREATE INDEX llm_calls_output_sha256_idx ON llm_calls (output_sha256);
CREATE INDEX llm_calls_system_sha256_idx ON llm_calls (system_sha256);
