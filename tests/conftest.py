"""Root fixtures. Each family of fixtures lives in its own module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.standin",
    "tests.fixtures.otel",
    "tests.fixtures.stack",
]
