"""`python -m tokentrail.dev.standin`."""

from __future__ import annotations

import sys

from tokentrail.dev.standin._cli import main

if __name__ == "__main__":
    sys.exit(main())
