"""The public surface, pinned: what users import, the entry points installers resolve, the CLI's commands and
flags, the sink's HTTP routes, and the error tree. A restructuring that changes any of these breaks a user."""

from __future__ import annotations

import argparse
import inspect
from importlib.metadata import entry_points

import pytest

import tokentrail
from tokentrail import cli, errors


def test_the_package_exports_exactly_its_public_api() -> None:
    public = ["TokentrailError", "__version__", "attributes", "instrument", "uninstrument", "workflow"]
    assert tokentrail.__all__ == public
    for name in tokentrail.__all__:
        assert getattr(tokentrail, name) is not None
    assert tokentrail.TokentrailError is errors.TokentrailError
    assert isinstance(tokentrail.__version__, str)


@pytest.mark.parametrize(
    ("group", "name", "target"),
    [
        (
            "opentelemetry_instrumentor",
            "tokentrail_anthropic",
            "tokentrail.instrumentation.anthropic:AnthropicInstrumentor",
        ),
        ("opentelemetry_distro", "tokentrail", "tokentrail.instrumentation.distro:TokentrailDistro"),
        ("opentelemetry_configurator", "tokentrail", "tokentrail.instrumentation.distro:TokentrailConfigurator"),
        ("console_scripts", "tokentrail", "tokentrail.cli:main"),
    ],
)
def test_entry_points_resolve(group: str, name: str, target: str) -> None:
    (point,) = [p for p in entry_points(group=group) if p.name == name]
    assert point.value == target
    assert point.load() is not None


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings if flag not in ("-h", "--help")}


def test_cli_commands_and_flags() -> None:
    commands = _subcommands(cli._parser())
    assert set(commands) == {"sink", "standin", "demo", "db", "stats", "calls", "trace", "compare", "prune", "ui"}
    assert set(_subcommands(commands["db"])) == {"upgrade"}
    expected = {
        "stats": {"--database-url", "--format", "--since", "--until", "--by"},
        "calls": {
            "--database-url",
            "--format",
            "--status",
            "--model",
            "--user",
            "--session",
            "--tag",
            "--since",
            "--until",
            "--min-cost",
            "--min-latency",
            "--limit",
        },
        "trace": {"--database-url", "--format"},
        "compare": {"--database-url", "--format", "--prompt", "--versions", "--since", "--until"},
        "prune": {"--database-url", "--format", "--older-than", "--dry-run"},
        "ui": {"--database-url", "--host", "--port", "--token", "--jaeger-url"},
    }
    for command, flags in expected.items():
        assert flags <= _flags(commands[command]), command


def test_sink_http_surface() -> None:
    from tokentrail.sink.config import SinkConfig
    from tokentrail.sink.http import build_app
    from tokentrail.sink.pipeline import Sink

    app = build_app(Sink(SinkConfig(database_url="postgresql://127.0.0.1:1/none")))
    routes = {(route.path, tuple(sorted(route.methods or ()))) for route in app.routes}  # type: ignore[attr-defined]
    assert routes == {
        ("/v1/traces", ("POST",)),
        ("/healthz", ("GET", "HEAD")),
        ("/readyz", ("GET", "HEAD")),
        ("/metrics", ("GET", "HEAD")),
    }


def test_every_error_derives_from_the_root_and_is_in_the_drawn_tree() -> None:
    classes = [obj for _, obj in inspect.getmembers(errors, inspect.isclass) if issubclass(obj, Exception)]
    assert {c.__name__ for c in classes} == set(errors.__all__)
    for error in classes:
        assert issubclass(error, errors.TokentrailError)
        assert error.__name__ in (errors.__doc__ or "")
    # the old bases stay, so existing `except ValueError` / `except RuntimeError` code keeps working
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.PricingError, ValueError)
    assert issubclass(errors.MigrationError, RuntimeError)


def test_modules_raise_the_shared_errors() -> None:
    from tokentrail import pricing
    from tokentrail.db import embedded, migrate, store
    from tokentrail.sink import decode

    assert decode.RequestError is errors.RequestError
    assert store.StoreUnavailable is errors.StoreUnavailable
    assert embedded.EmbeddedPostgresError is errors.EmbeddedPostgresError
    assert migrate.MigrationError is errors.MigrationError
    assert pricing.PricingError is errors.PricingError
    with pytest.raises(errors.ConfigurationError, match="service_name"):
        tokentrail.instrument(service_name="")
