"""The command line: `python -m tokentrail.sink` serves, drains on SIGTERM with exit code 0, and runs on the
embedded Postgres without a database URL."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.fixtures import otlp
from tests.fixtures.processes import sink_process
from tests.fixtures.sink import sdk_spans
from tokentrail.sink.main import main


def test_python_m_tokentrail_sink_serves_and_shuts_down_cleanly_on_sigterm(database_url: str) -> None:
    with sink_process("--database-url", database_url) as sink:
        exporter = OTLPSpanExporter(endpoint=sink.url + "/v1/traces")
        assert exporter.export(sdk_spans(1)) is SpanExportResult.SUCCESS
        exporter.shutdown()
        sink.process.send_signal(signal.SIGTERM)
        assert sink.process.wait(timeout=60) == 0
    assert otlp.count(database_url, "spans") == 2


def test_without_a_database_url_the_sink_runs_on_the_embedded_postgres(tmp_path: Any) -> None:
    from tokentrail.db.embedded import EmbeddedPostgres, running_url

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tmp_path.chmod(0o755)
    data_dir.chmod(0o755)
    try:
        with sink_process(env={"TOKENTRAIL_DATA_DIR": str(data_dir)}, ready_within=120) as sink:
            url = running_url(data_dir)
            assert url is not None
            exporter = OTLPSpanExporter(endpoint=sink.url + "/v1/traces")
            assert exporter.export(sdk_spans(1)) is SpanExportResult.SUCCESS
            exporter.shutdown()
            assert otlp.counts(url)[:2] == (2, 1)
            sink.process.send_signal(signal.SIGTERM)
            assert sink.process.wait(timeout=60) == 0
            assert running_url(data_dir) is None  # the sink stopped the cluster it started
    finally:
        EmbeddedPostgres(data_dir).destroy()


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-inflight", "0"],
        ["--pool-size", "-1"],
        ["--body-timeout", "0"],
        ["--body-idle-timeout", "nan"],
        ["--receive-budget-bytes", "x"],
        ["--port", "http"],
        ["--unknown-flag"],
    ],
)
def test_bad_arguments_exit_2_before_anything_starts(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def test_bad_settings_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENTRAIL_SINK_BODY_TIMEOUT", "-3")
    with pytest.raises(SystemExit) as exit_:
        main(["--database-url", "postgresql://127.0.0.1:1/none"])
    assert exit_.value.code == 2
