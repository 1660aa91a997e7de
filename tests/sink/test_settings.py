"""`tokentrail.sink.settings`: the sink's and the database's settings, apart from the application's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokentrail.sink.settings import DEFAULT_DATA_DIR, SinkSettings, load


def test_defaults() -> None:
    settings = load({})
    assert settings == SinkSettings()
    assert (settings.database_url, settings.sink_host, settings.sink_port) == (None, "127.0.0.1", 4318)
    assert settings.data_dir == DEFAULT_DATA_DIR
    assert (settings.sink_body_idle_timeout, settings.sink_body_timeout) == (10.0, 60.0)


def test_environment_is_read_into_typed_fields() -> None:
    settings = load(
        {
            "TOKENTRAIL_DATABASE_URL": "postgresql://db/tt",
            "TOKENTRAIL_SINK_HOST": "0.0.0.0",
            "TOKENTRAIL_SINK_PORT": "9000",
            "TOKENTRAIL_SINK_GRPC_PORT": "9001",
            "TOKENTRAIL_SINK_TOKEN": "s3cret",
            "TOKENTRAIL_SINK_MAX_BODY_BYTES": "1024",
            "TOKENTRAIL_SINK_BODY_IDLE_TIMEOUT": "2",
            "TOKENTRAIL_SINK_BODY_TIMEOUT": "30",
            "TOKENTRAIL_DATA_DIR": "/var/lib/tt",
        }
    )
    assert settings.database_url == "postgresql://db/tt"
    assert (settings.sink_host, settings.sink_port, settings.sink_grpc_port) == ("0.0.0.0", 9000, 9001)
    assert (settings.sink_token, settings.sink_max_body_bytes) == ("s3cret", 1024)
    assert (settings.sink_body_idle_timeout, settings.sink_body_timeout) == (2.0, 30.0)
    assert settings.data_dir == Path("/var/lib/tt")


def test_keyword_overrides_win_and_none_means_not_given() -> None:
    settings = load({"TOKENTRAIL_SINK_PORT": "9000"}, sink_port=None, data_dir="/d", sink_host="::1")
    assert (settings.sink_port, settings.data_dir, settings.sink_host) == (9000, Path("/d"), "::1")
    with pytest.raises(TypeError, match="unknown setting 'capture_content'"):
        load({}, capture_content=True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOKENTRAIL_SINK_PORT": "eighty"}, "TOKENTRAIL_SINK_PORT='eighty' is not a whole number"),
        ({"TOKENTRAIL_SINK_MAX_BODY_BYTES": "0"}, "must be positive"),
        ({"TOKENTRAIL_SINK_BODY_TIMEOUT": "never"}, "is not a number of seconds"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load(env)


def test_instrument_ignores_a_bad_sink_setting_in_the_applications_environment() -> None:
    """A real process: `TOKENTRAIL_SINK_PORT=abc` (meant for the sink) next to the application must not make
    `tokentrail.instrument()` raise; the sink's own command refuses it, naming the variable."""
    env = {**os.environ, "TOKENTRAIL_SINK_PORT": "abc", "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
    app = subprocess.run(
        [sys.executable, "-c", "import tokentrail; tokentrail.instrument(); tokentrail.uninstrument(); print('ok')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (app.returncode, app.stdout.strip()) == (0, "ok"), app.stderr
    sink = subprocess.run(
        [sys.executable, "-m", "tokentrail.sink"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert sink.returncode == 2
    assert "TOKENTRAIL_SINK_PORT='abc' is not a whole number" in sink.stderr
