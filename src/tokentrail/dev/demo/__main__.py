"""`python -m tokentrail.dev.demo`."""

from __future__ import annotations

from tokentrail.dev.demo._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
