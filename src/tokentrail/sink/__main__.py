"""`python -m tokentrail.sink`: the same as `tokentrail sink`."""

from tokentrail.sink.server import main

raise SystemExit(main())
