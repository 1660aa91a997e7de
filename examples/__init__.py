"""Runnable tokentrail examples. Each one talks to Claude through the plain `anthropic` SDK.

Point them at the local stand-in (`python -m tokentrail.dev.standin --port 8765` and
`ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=standin`) to run them without an API key.
"""
