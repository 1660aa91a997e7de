"""Every error tokentrail raises to its user, under one root.

```
TokentrailError
├── ConfigurationError       a setting, argument or environment variable is not valid (also a ValueError)
├── PricingError             a price override file or a price is not valid (also a ValueError)
├── RequestError             the sink refuses an export request; `status` is the HTTP status it answers
│   ├── BadRequest           400: the body cannot be decoded
│   ├── BodyTimeout          408: the body did not arrive in time
│   ├── PayloadTooLarge      413: the body is too large once decompressed, or explodes when parsed
│   ├── UnsupportedMediaType 415: another content type or encoding
│   └── ReceiveBudgetExhausted 503: too many bodies are being received at once
├── StoreUnavailable         Postgres cannot take a write now (answered 503 with Retry-After)
├── DatabaseError            setting up the database failed (also a RuntimeError)
│   ├── EmbeddedPostgresError  the private cluster could not be created or started
│   └── MigrationError       the migration files are inconsistent, or one failed to apply
├── CommandError             a `tokentrail` command cannot do what it was asked (its exit status in `code`)
└── DemoError                `make demo` could not start or finish its pipeline
```

Instrumentation never raises into the application: faults inside it are logged at debug level and swallowed;
these errors come from what the user calls directly (`instrument()`, the CLI, the sink).
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "BodyTimeout",
    "CommandError",
    "ConfigurationError",
    "DatabaseError",
    "DemoError",
    "EmbeddedPostgresError",
    "MigrationError",
    "PayloadTooLarge",
    "PricingError",
    "ReceiveBudgetExhausted",
    "RequestError",
    "StoreUnavailable",
    "TokentrailError",
    "UnsupportedMediaType",
]


class TokentrailError(Exception):
    """The root of every error tokentrail raises to its user."""


class ConfigurationError(TokentrailError, ValueError):
    """A setting, argument or environment variable is not valid; the message names it and what it takes."""


class PricingError(TokentrailError, ValueError):
    """A price override file or a price in it is not valid."""


class RequestError(TokentrailError):
    """The sink cannot accept an export request; `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(RequestError):
    status = 400


class BodyTimeout(RequestError):
    status = 408


class PayloadTooLarge(RequestError):
    status = 413


class UnsupportedMediaType(RequestError):
    status = 415


class ReceiveBudgetExhausted(RequestError):
    status = 503


class StoreUnavailable(TokentrailError):
    """Postgres cannot take the write now; answer 503 with `Retry-After` and let the client retry."""


class DatabaseError(TokentrailError, RuntimeError):
    """Setting up the database failed."""


class EmbeddedPostgresError(DatabaseError):
    """The embedded cluster could not be created or started (the message says why and what to install)."""


class MigrationError(DatabaseError):
    """The migration files are inconsistent (bad name, duplicate version) or one failed to apply."""


class CommandError(TokentrailError):
    """A `tokentrail` command cannot do what it was asked; the CLI prints the message as one line on stderr and
    exits with `code` (1 unless said otherwise)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class DemoError(TokentrailError, RuntimeError):
    """The demo could not start or finish its pipeline."""
