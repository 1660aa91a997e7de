-- tokentrail schema, version 6: rollups of llm_calls per UTC hour and per UTC day, kept exact by the database
-- itself, so that the web UI's overview, failures, prompt-versions and users pages read a few thousand rows
-- instead of every call of the range. docs/schema.md, "Rollups", documents the tables; docs/architecture.md says
-- why they look like this. Needs PostgreSQL 15 or newer (UNIQUE ... NULLS NOT DISTINCT).
--
-- Every table has `grain` ('hour' or 'day') and `period` (the start of that UTC hour or day), a few dimensions and
-- sums. Statement-level triggers on llm_calls add what a statement inserts and subtract what it deletes (an update
-- is both), one upsert per table per statement; a TRUNCATE of llm_calls empties them, and `tokentrail prune`
-- deletes the periods of the partitions it drops (tokentrail_rollup_forget). A group whose calls all went away
-- stays with zero calls until then: readers skip rows without calls.

-- Latency histograms: bucket 0 holds [0, 1) ms, bucket b >= 1 holds [1.1^(b-1), 1.1^b) ms. Reading a bucket as
-- its geometric middle, 1.1^(b-0.5), is within sqrt(1.1) - 1 (4.9%) of any value in it.
CREATE FUNCTION tokentrail_latency_bucket(ms double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (CASE WHEN ms IS NULL THEN NULL WHEN ms < 1 THEN 0 ELSE least(floor(ln(ms) / ln(1.1)) + 1, 32000) END)::smallint;

-- The sums every rollup (but the histogram and the sessions) carries. Token counting is free: its input tokens
-- are counted_tokens, not input_tokens. *_calls count the calls whose value was known (for means and ratios).
-- Token sums are numeric, as in the views (0003): rows out of any sane range must not make a write fail.
CREATE TABLE llm_rollup (
    grain              text        NOT NULL CHECK (grain IN ('hour', 'day')),
    period             timestamptz NOT NULL,
    request_model      text,
    response_model     text,
    service_name       text,
    status             text        NOT NULL,
    error_type         text,
    operation          text        NOT NULL,
    call_type          text,
    workflow_name      text,
    prompt_name        text,
    prompt_version     text,
    streaming          boolean,
    calls              bigint      NOT NULL,
    errors             bigint      NOT NULL,
    retried            bigint      NOT NULL,
    cost_usd           numeric     NOT NULL,
    cost_calls         bigint      NOT NULL,
    input_tokens       numeric     NOT NULL,
    counted_tokens     numeric     NOT NULL,
    output_tokens      numeric     NOT NULL,
    output_calls       bigint      NOT NULL,
    cache_read_tokens  numeric     NOT NULL,
    cache_read_calls   bigint      NOT NULL,
    cache_write_tokens numeric     NOT NULL,
    reasoning_tokens   numeric     NOT NULL,
    duration_ms        double precision NOT NULL,
    ttfc_calls         bigint      NOT NULL,
    ttfc_ms            double precision NOT NULL
);
CREATE UNIQUE INDEX llm_rollup_key ON llm_rollup (
    grain, period, request_model, response_model, service_name, status, error_type, operation, call_type,
    workflow_name, prompt_name, prompt_version, streaming
) NULLS NOT DISTINCT;

-- Latency (metric 0, duration_ms) and time to first chunk (metric 1) histograms per model, status and prompt: the
-- dimensions percentiles are shown by (fewer than llm_rollup's, since each group holds a row per bucket).
CREATE TABLE llm_rollup_latency (
    grain          text        NOT NULL CHECK (grain IN ('hour', 'day')),
    period         timestamptz NOT NULL,
    request_model  text,
    response_model text,
    status         text        NOT NULL,
    prompt_name    text,
    prompt_version text,
    metric         smallint    NOT NULL CHECK (metric IN (0, 1)),
    bucket         smallint    NOT NULL,
    calls          bigint      NOT NULL
);
-- calls included: a percentile reads the index only (the histograms are the biggest rollup).
CREATE UNIQUE INDEX llm_rollup_latency_key ON llm_rollup_latency (
    grain, period, request_model, response_model, status, prompt_name, prompt_version, metric, bucket
) INCLUDE (calls) NULLS NOT DISTINCT;

CREATE TABLE llm_rollup_users (
    LIKE llm_rollup INCLUDING ALL EXCLUDING INDEXES
);
ALTER TABLE llm_rollup_users
    DROP COLUMN service_name, DROP COLUMN error_type, DROP COLUMN call_type, DROP COLUMN workflow_name,
    DROP COLUMN prompt_name, DROP COLUMN prompt_version, DROP COLUMN streaming;
ALTER TABLE llm_rollup_users ADD COLUMN user_id text;
CREATE UNIQUE INDEX llm_rollup_users_key ON llm_rollup_users (
    grain, period, user_id, request_model, response_model, status, operation
) NULLS NOT DISTINCT;
CREATE INDEX llm_rollup_users_user_idx ON llm_rollup_users (user_id, grain, period);

-- The sessions of each user (calls with both a user and a session): how many distinct sessions a user had.
CREATE TABLE llm_rollup_user_sessions (
    grain      text        NOT NULL CHECK (grain IN ('hour', 'day')),
    period     timestamptz NOT NULL,
    user_id    text        NOT NULL,
    session_id text        NOT NULL,
    calls      bigint      NOT NULL,
    PRIMARY KEY (grain, period, user_id, session_id)
);

-- Tags: a call counts once under each distinct tag, and once under NULL without any (as `--by tag`); by model and
-- status too, so that the overview filtered on them still reads a rollup.
CREATE TABLE llm_rollup_tags (
    LIKE llm_rollup_users INCLUDING ALL EXCLUDING INDEXES
);
ALTER TABLE llm_rollup_tags DROP COLUMN user_id, DROP COLUMN operation;
ALTER TABLE llm_rollup_tags ADD COLUMN tag text;
CREATE UNIQUE INDEX llm_rollup_tags_key ON llm_rollup_tags (
    grain, period, tag, request_model, response_model, status
) NULLS NOT DISTINCT;

-- App attributes (tokentrail.app.<attr_key>, any key) by value, as text (`->>`), model and status; calls without
-- the key are not here (their figures are llm_rollup's totals minus these).
CREATE TABLE llm_rollup_attrs (
    LIKE llm_rollup_tags INCLUDING ALL EXCLUDING INDEXES
);
ALTER TABLE llm_rollup_attrs DROP COLUMN tag;
ALTER TABLE llm_rollup_attrs ADD COLUMN attr_key text NOT NULL, ADD COLUMN attr_value text NOT NULL;
CREATE UNIQUE INDEX llm_rollup_attrs_key ON llm_rollup_attrs (
    grain, period, attr_key, attr_value, request_model, response_model, status
) NULLS NOT DISTINCT;

-- The statements that add the rows of `delta` (a query of `sign` (+1 or -1) and llm_calls' columns) to every
-- rollup. The trigger function runs them over its transition tables; the backfill below over llm_calls. Rows are
-- upserted in key order, so that concurrent writers lock shared rollup rows in the same order (no deadlock).
CREATE FUNCTION tokentrail_rollup_statements(delta text) RETURNS SETOF text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    measures constant text := $m$
        sum(d.sign) AS calls,
        sum(d.sign * (d.status = 'error')::int) AS errors,
        sum(d.sign * (coalesce(d.attempts, 1) > 1)::int) AS retried,
        coalesce(sum(d.sign * d.cost_usd), 0) AS cost_usd,
        sum(d.sign * (d.cost_usd IS NOT NULL)::int) AS cost_calls,
        coalesce(sum(d.sign * d.input_tokens) FILTER (WHERE d.operation <> 'count_tokens'), 0) AS input_tokens,
        coalesce(sum(d.sign * d.input_tokens) FILTER (WHERE d.operation = 'count_tokens'), 0) AS counted_tokens,
        coalesce(sum(d.sign * d.output_tokens), 0) AS output_tokens,
        sum(d.sign * (d.output_tokens IS NOT NULL)::int) AS output_calls,
        coalesce(sum(d.sign * d.cache_read_tokens), 0) AS cache_read_tokens,
        sum(d.sign * (d.cache_read_tokens IS NOT NULL)::int) AS cache_read_calls,
        coalesce(sum(d.sign * d.cache_write_tokens), 0) AS cache_write_tokens,
        coalesce(sum(d.sign * d.reasoning_tokens), 0) AS reasoning_tokens,
        sum(d.sign * d.duration_ms) AS duration_ms,
        sum(d.sign * (d.time_to_first_chunk_ms IS NOT NULL)::int) AS ttfc_calls,
        coalesce(sum(d.sign * d.time_to_first_chunk_ms), 0) AS ttfc_ms$m$;
    names constant text[] := ARRAY[
        'calls', 'errors', 'retried', 'cost_usd', 'cost_calls', 'input_tokens', 'counted_tokens', 'output_tokens',
        'output_calls', 'cache_read_tokens', 'cache_read_calls', 'cache_write_tokens', 'reasoning_tokens',
        'duration_ms', 'ttfc_calls', 'ttfc_ms'];
    main_dims constant text := 'request_model, response_model, service_name, status, error_type, operation, '
        'call_type, workflow_name, prompt_name, prompt_version, streaming';
    source constant text := format(
        '(%s) AS d CROSS JOIN (VALUES (''hour''), (''day'')) AS g(grain)', delta);
    period constant text := 'date_trunc(g.grain, d.start_time, ''UTC'')';
    adds text;
BEGIN
    SELECT string_agg(format('%1$I = t.%1$I + excluded.%1$I', n), ', ') INTO adds FROM unnest(names) AS n;
    RETURN NEXT format(
        'INSERT INTO llm_rollup AS t (grain, period, %1$s, %2$s) SELECT g.grain, %3$s, %4$s, %5$s FROM %6$s '
        'GROUP BY 1, 2, %4$s ORDER BY 1, 2, %4$s ON CONFLICT (grain, period, %1$s) DO UPDATE SET %7$s',
        main_dims, array_to_string(names, ', '), period,
        'd.request_model, d.response_model, d.service_name, d.status, d.error_type, d.operation, d.call_type, '
        'd.workflow_name, d.prompt_name, d.prompt_version, d.streaming',
        measures, source, adds);
    RETURN NEXT format(
        'INSERT INTO llm_rollup_latency AS t (grain, period, %1$s, metric, bucket, calls) '
        'SELECT g.grain, %2$s, %3$s, m.metric, tokentrail_latency_bucket(m.ms), sum(d.sign) FROM %4$s '
        'CROSS JOIN LATERAL (VALUES (0::smallint, d.duration_ms), (1::smallint, d.time_to_first_chunk_ms)) '
        'AS m(metric, ms) WHERE m.ms IS NOT NULL GROUP BY 1, 2, %3$s, 8, 9 ORDER BY 1, 2, %3$s, 8, 9 '
        'ON CONFLICT (grain, period, %1$s, metric, bucket) DO UPDATE SET calls = t.calls + excluded.calls',
        'request_model, response_model, status, prompt_name, prompt_version', period,
        'd.request_model, d.response_model, d.status, d.prompt_name, d.prompt_version', source);
    RETURN NEXT format(
        'INSERT INTO llm_rollup_users AS t (grain, period, user_id, request_model, response_model, status, '
        'operation, %1$s) SELECT g.grain, %2$s, d.user_id, d.request_model, d.response_model, d.status, '
        'd.operation, %3$s FROM %4$s GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 '
        'ON CONFLICT (grain, period, user_id, request_model, response_model, status, operation) DO UPDATE SET %5$s',
        array_to_string(names, ', '), period, measures, source, adds);
    RETURN NEXT format(
        'INSERT INTO llm_rollup_user_sessions AS t (grain, period, user_id, session_id, calls) '
        'SELECT g.grain, %1$s, d.user_id, d.session_id, sum(d.sign) FROM %2$s '
        'WHERE d.user_id IS NOT NULL AND d.session_id IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 '
        'ON CONFLICT (grain, period, user_id, session_id) DO UPDATE SET calls = t.calls + excluded.calls',
        period, source);
    RETURN NEXT format(
        'INSERT INTO llm_rollup_tags AS t (grain, period, tag, request_model, response_model, status, %1$s) '
        'SELECT g.grain, %2$s, u.tag, d.request_model, d.response_model, d.status, %3$s FROM %4$s '
        'LEFT JOIN LATERAL (SELECT DISTINCT x FROM unnest(d.tags) AS x) AS u(tag) ON true GROUP BY 1, 2, 3, 4, 5, 6 '
        'ORDER BY 1, 2, 3, 4, 5, 6 '
        'ON CONFLICT (grain, period, tag, request_model, response_model, status) DO UPDATE SET %5$s',
        array_to_string(names, ', '), period, measures, source, adds);
    RETURN NEXT format(
        'INSERT INTO llm_rollup_attrs AS t (grain, period, attr_key, attr_value, request_model, response_model, '
        'status, %1$s) SELECT g.grain, %2$s, substr(a.k, 16), a.v, d.request_model, d.response_model, d.status, '
        '%3$s FROM %4$s CROSS JOIN LATERAL jsonb_each_text(d.attributes) AS a(k, v) '
        'WHERE starts_with(a.k, ''tokentrail.app.'') AND a.v IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7 '
        'ORDER BY 1, 2, 3, 4, 5, 6, 7 '
        'ON CONFLICT (grain, period, attr_key, attr_value, request_model, response_model, status) '
        'DO UPDATE SET %5$s',
        array_to_string(names, ', '), period, measures, source, adds);
END;
$fn$;

-- Deletes the rollup rows of every period in [since, until) (retention drops whole days; so does this).
CREATE FUNCTION tokentrail_rollup_forget(since timestamptz, until timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['llm_rollup', 'llm_rollup_latency', 'llm_rollup_users', 'llm_rollup_user_sessions',
                             'llm_rollup_tags', 'llm_rollup_attrs'] LOOP
        EXECUTE format('DELETE FROM %I WHERE period >= $1 AND period < $2', t) USING since, until;
    END LOOP;
END;
$$;

CREATE FUNCTION tokentrail_rollup_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta text;
    stmt text;
    t text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM tokentrail_new) THEN
            RETURN NULL;  -- a re-delivered batch: ON CONFLICT DO NOTHING inserted nothing
        END IF;
        delta := 'SELECT 1 AS sign, n.* FROM tokentrail_new AS n';
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM tokentrail_old) THEN
            RETURN NULL;
        END IF;
        delta := 'SELECT -1 AS sign, o.* FROM tokentrail_old AS o';
    ELSE
        delta := 'SELECT -1 AS sign, o.* FROM tokentrail_old AS o UNION ALL SELECT 1, n.* FROM tokentrail_new AS n';
    END IF;
    FOR stmt IN SELECT tokentrail_rollup_statements(delta) LOOP
        EXECUTE stmt;
    END LOOP;
    IF TG_OP <> 'INSERT' THEN
        -- Groups left without calls go (only in the periods this statement touched).
        FOREACH t IN ARRAY ARRAY['llm_rollup', 'llm_rollup_latency', 'llm_rollup_users', 'llm_rollup_user_sessions',
                                 'llm_rollup_tags', 'llm_rollup_attrs'] LOOP
            EXECUTE format(
                'DELETE FROM %I AS r USING (SELECT DISTINCT g.grain, date_trunc(g.grain, o.start_time, ''UTC'') AS p '
                'FROM tokentrail_old AS o CROSS JOIN (VALUES (''hour''), (''day'')) AS g(grain)) AS k '
                'WHERE r.grain = k.grain AND r.period = k.p AND r.calls = 0', t);
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER llm_calls_rollup_insert AFTER INSERT ON llm_calls
    REFERENCING NEW TABLE AS tokentrail_new FOR EACH STATEMENT EXECUTE FUNCTION tokentrail_rollup_trigger();
CREATE TRIGGER llm_calls_rollup_update AFTER UPDATE ON llm_calls
    REFERENCING OLD TABLE AS tokentrail_old NEW TABLE AS tokentrail_new
    FOR EACH STATEMENT EXECUTE FUNCTION tokentrail_rollup_trigger();
CREATE TRIGGER llm_calls_rollup_delete AFTER DELETE ON llm_calls
    REFERENCING OLD TABLE AS tokentrail_old FOR EACH STATEMENT EXECUTE FUNCTION tokentrail_rollup_trigger();

CREATE FUNCTION tokentrail_rollup_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE llm_rollup, llm_rollup_latency, llm_rollup_users, llm_rollup_user_sessions, llm_rollup_tags,
             llm_rollup_attrs;
    RETURN NULL;
END;
$$;

CREATE TRIGGER llm_calls_rollup_truncate AFTER TRUNCATE ON llm_calls
    FOR EACH STATEMENT EXECUTE FUNCTION tokentrail_rollup_truncate();

-- The calls stored before this version.
DO $$
DECLARE
    stmt text;
BEGIN
    FOR stmt IN SELECT tokentrail_rollup_statements('SELECT 1 AS sign, c.* FROM llm_calls AS c') LOOP
        EXECUTE stmt;
    END LOOP;
END;
$$;
ANALYZE llm_rollup, llm_rollup_latency, llm_rollup_users, llm_rollup_user_sessions, llm_rollup_tags,
        llm_rollup_attrs;

COMMENT ON TABLE llm_rollup IS
    'llm_calls summed per UTC hour and day (grain, period) and model, service, status, error type, operation, '
    'call type, workflow, prompt and streaming; kept by triggers. input_tokens leaves count_tokens out.';
COMMENT ON TABLE llm_rollup_latency IS
    'Histograms of duration_ms (metric 0) and time_to_first_chunk_ms (metric 1) per model, status and prompt: '
    'bucket = tokentrail_latency_bucket(ms), [1.1^(bucket-1), 1.1^bucket) ms; bucket 0 is [0, 1) ms.';
COMMENT ON TABLE llm_rollup_users IS 'llm_calls summed per UTC hour and day, user, model, status and operation.';
COMMENT ON TABLE llm_rollup_user_sessions IS 'Calls per UTC hour and day, user and session.';
COMMENT ON TABLE llm_rollup_tags IS
    'llm_calls summed per UTC hour and day, distinct tag (NULL: no tag), model and status.';
COMMENT ON TABLE llm_rollup_attrs IS
    'llm_calls summed per UTC hour and day, app attribute (tokentrail.app.<attr_key>) value as text, model and status.';
