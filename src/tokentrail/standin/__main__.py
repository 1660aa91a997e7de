"""`python -m tokentrail.standin`."""

from __future__ import annotations

import sys

from tokentrail.standin._cli import main

if __name__ == "__main__":
    sys.exit(main())
