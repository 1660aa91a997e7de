"""`SinkConfig.from_settings`: the settings fill the service's config; given overrides win, `None` ones do not."""

from __future__ import annotations

from tokentrail.sink import settings
from tokentrail.sink.config import SinkConfig


def test_from_settings_takes_the_sink_settings_and_the_given_overrides() -> None:
    current = settings.load(
        {
            "TOKENTRAIL_SINK_HOST": "0.0.0.0",
            "TOKENTRAIL_SINK_PORT": "9318",
            "TOKENTRAIL_SINK_GRPC_PORT": "9317",
            "TOKENTRAIL_SINK_TOKEN": "s3cret",
            "TOKENTRAIL_SINK_MAX_BODY_BYTES": "1024",
            "TOKENTRAIL_SINK_BODY_IDLE_TIMEOUT": "2.5",
            "TOKENTRAIL_SINK_BODY_TIMEOUT": "7",
        }
    )
    config = SinkConfig.from_settings(current, "postgresql://db/x", max_inflight=3, pool_size=None, migrate=False)
    assert (config.database_url, config.host, config.port, config.grpc_port) == (
        "postgresql://db/x",
        "0.0.0.0",
        9318,
        9317,
    )
    assert (config.token, config.max_body_bytes) == ("s3cret", 1024)
    assert (config.body_idle_timeout, config.body_timeout) == (2.5, 7.0)
    assert (config.max_inflight, config.pool_size, config.migrate) == (3, SinkConfig.pool_size, False)
