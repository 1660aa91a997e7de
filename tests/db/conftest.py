"""The sink fixtures (tests/fixtures/sink.py) for this folder's tests."""

from tests.fixtures.sink import client, sink, sink_factory

__all__ = ["client", "sink", "sink_factory"]
