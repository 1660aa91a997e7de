"""`python -m tokentrail.cli`: the `tokentrail` command."""

import sys

from tokentrail.cli import main

sys.exit(main())
