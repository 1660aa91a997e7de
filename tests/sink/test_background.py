"""`BackgroundSink`: the harness has no URL before it started (a real start is what every sink test uses)."""

from __future__ import annotations

import pytest

from tokentrail.sink.background import BackgroundSink
from tokentrail.sink.config import SinkConfig


def test_a_background_sink_has_no_url_before_it_started() -> None:
    sink = BackgroundSink(SinkConfig(database_url="postgresql://127.0.0.1:1/none", port=0))
    with pytest.raises(RuntimeError, match="not started"):
        _ = sink.url
    with pytest.raises(RuntimeError, match="not started"):
        _ = sink.traces_url
    sink.stop()  # stopping a sink that never started is harmless
