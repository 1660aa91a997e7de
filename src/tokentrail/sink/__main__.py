"""`python -m tokentrail.sink`: the same as `tokentrail sink`."""

from tokentrail.sink.main import main

raise SystemExit(main())
