-- tokentrail schema, version 4: one call, one row, when several instrumentations report the same API call
-- (the SDK's own tracing and a peer instrumentation, say). docs/schema.md, "Calls reported twice", says how.

-- Every instrumentation that reported the call, and the spans merged into it (NULL: reported once). Rows stored
-- before this version have NULL sources: read them as ARRAY[source].
ALTER TABLE llm_calls ADD COLUMN sources text[];
ALTER TABLE llm_calls ADD COLUMN member_span_ids text[];

-- The LLM spans of the traces that more than one instrumentation reports, one row each, as the sink read them:
-- the calls of those traces are rebuilt from here, so the result does not depend on the order of arrival.
CREATE TABLE llm_call_reports (
    LIKE llm_calls INCLUDING DEFAULTS,
    PRIMARY KEY (trace_id, span_id, start_time)
) PARTITION BY RANGE (start_time);

CREATE INDEX llm_call_reports_trace_idx ON llm_call_reports (trace_id);

COMMENT ON TABLE llm_call_reports IS
    'One row per LLM span of the traces that several instrumentations report; llm_calls holds their merged calls.';

CREATE OR REPLACE FUNCTION tokentrail_ensure_partitions(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    suffix text := to_char(day, 'YYYYMMDD');
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['spans', 'llm_calls', 'llm_call_reports'] LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            t || '_p' || suffix, t, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
    END LOOP;
END;
$$;

-- The days that already have partitions get theirs for the reports too.
DO $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT child.relname AS name, pg_get_expr(child.relpartbound, child.oid) AS bound
        FROM pg_inherits AS i
        JOIN pg_class AS parent ON parent.oid = i.inhparent
        JOIN pg_class AS child ON child.oid = i.inhrelid
        WHERE parent.relname = 'llm_calls' AND parent.relnamespace = current_schema()::regnamespace
    LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF llm_call_reports %s',
            'llm_call_reports' || substr(part.name, length('llm_calls') + 1), part.bound
        );
    END LOOP;
END;
$$;
