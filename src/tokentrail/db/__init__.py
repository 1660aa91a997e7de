"""Postgres: the store (the only writer), schema migrations, retention, and the embedded private cluster."""
