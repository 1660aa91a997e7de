"""Settings: one frozen object from the environment, keyword overrides on top, clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokentrail.instrumentation.settings import CaptureMode, Settings, load, parse_capture_mode


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", CaptureMode.SPAN_ONLY),
        ("TRUE", CaptureMode.SPAN_ONLY),
        ("1", CaptureMode.SPAN_ONLY),
        ("false", CaptureMode.NO_CONTENT),
        ("off", CaptureMode.NO_CONTENT),
        ("NO_CONTENT", CaptureMode.NO_CONTENT),
        ("span_only", CaptureMode.SPAN_ONLY),
        ("SPAN_AND_EVENT", CaptureMode.SPAN_ONLY),
        ("EVENT_ONLY", CaptureMode.NO_CONTENT),
        (True, CaptureMode.SPAN_ONLY),
        (False, CaptureMode.NO_CONTENT),
        ("", CaptureMode.SPAN_ONLY),
        (None, CaptureMode.SPAN_ONLY),
    ],
)
def test_capture_mode_accepts_booleans_and_the_semconv_mode_names(
    raw: str | bool | None, expected: CaptureMode
) -> None:
    assert parse_capture_mode(raw, CaptureMode.SPAN_ONLY) is expected


def test_capture_mode_rejects_anything_else_with_the_accepted_values_named() -> None:
    with pytest.raises(ValueError, match="NO_CONTENT"):
        parse_capture_mode("maybe", CaptureMode.SPAN_ONLY)


def test_defaults_capture_content_because_carrying_prompts_is_the_point() -> None:
    settings = load({})
    assert settings == Settings(traces_exporter=settings.traces_exporter, metrics_exporter=settings.metrics_exporter)
    assert settings.capture_content is CaptureMode.SPAN_ONLY
    assert settings.shutdown_timeout == 5.0


def test_tokentrail_variable_wins_over_the_standard_one() -> None:
    env = {"TOKENTRAIL_CAPTURE_CONTENT": "false", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    assert load(env).capture_content is CaptureMode.NO_CONTENT
    assert load({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"}).capture_content is (
        CaptureMode.NO_CONTENT
    )


def test_environment_is_read_into_typed_fields() -> None:
    settings = load(
        {
            "OTEL_SERVICE_NAME": "checkout",
            "TOKENTRAIL_CONTENT_MAX_BYTES": "1024",
            "TOKENTRAIL_PRICES_FILE": "/etc/prices.toml",
            "TOKENTRAIL_METRICS": "false",
            "TOKENTRAIL_SHUTDOWN_TIMEOUT": "2.5",
        }
    )
    assert settings.service_name == "checkout"
    assert settings.content_max_bytes == 1024
    assert settings.prices_file == Path("/etc/prices.toml")
    assert settings.metrics is False
    assert settings.shutdown_timeout == 2.5


def test_keyword_overrides_win_and_none_means_not_given() -> None:
    env = {"TOKENTRAIL_SERVICE_NAME": "from-env", "TOKENTRAIL_CAPTURE_CONTENT": "true"}
    settings = load(env, service_name=None, capture_content="false", prices_file="p.json")
    assert settings.service_name == "from-env"
    assert settings.capture_content is CaptureMode.NO_CONTENT
    assert settings.prices_file == Path("p.json")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOKENTRAIL_CONTENT_MAX_BYTES": "eighty"}, "not a whole number"),
        ({"TOKENTRAIL_CONTENT_MAX_BYTES": "-5"}, "must be positive"),
        ({"TOKENTRAIL_CAPTURE_CONTENT": "sometimes"}, "capture content"),
        ({"TOKENTRAIL_SHUTDOWN_TIMEOUT": "soon"}, "TOKENTRAIL_SHUTDOWN_TIMEOUT='soon' is not a number of seconds"),
        ({"TOKENTRAIL_SHUTDOWN_TIMEOUT": "0"}, "must be a positive number of seconds"),
        ({"TOKENTRAIL_SHUTDOWN_TIMEOUT": "inf"}, "must be a positive number of seconds"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load(env)


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown setting 'colour'"):
        load({}, colour="blue")


def test_settings_are_frozen() -> None:
    settings = load({})
    with pytest.raises(AttributeError):
        settings.content_max_bytes = 1  # type: ignore[misc]
    assert settings.replace(content_max_bytes=1).content_max_bytes == 1


def test_the_sinks_variables_are_not_the_applications_concern() -> None:
    """An application's environment may carry the sink's settings (one .env for a whole stack): a bad one must
    not stop `instrument()`; the application's settings do not even have those fields."""
    env = {"TOKENTRAIL_SINK_PORT": "abc", "TOKENTRAIL_SINK_MAX_BODY_BYTES": "-1", "TOKENTRAIL_DATA_DIR": "/x"}
    settings = load(env)
    assert not any(name.startswith(("sink_", "database", "data_dir")) for name in Settings.__dataclass_fields__)
    assert settings == load({})
