"""tokentrail's OpenTelemetry instrumentations (one package per provider SDK)."""
