"""Developer tooling: the stand-in Messages API and the demo. Nothing on the data path imports it."""
